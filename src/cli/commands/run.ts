import { defineCommand } from "citty";
import type { CommandHelp } from "../help.ts";
import { startAgent, type AgentFlags } from "../../schedule/lifecycle.ts";
import { commandConfig, configArg, nvmlLibraryArg, resolveNvmlLibrary } from "../shared.ts";

/** The agent in the foreground until SIGTERM or SIGINT (exit 0); SIGHUP reloads (schedule/lifecycle.ts). */
export async function runAgentCommand(flags: AgentFlags): Promise<void> {
  const loaded = commandConfig({ config: flags.config });
  await startAgent(flags, loaded, (current) => resolveNvmlLibrary({ "nvml-library": flags.nvmlLibrary }, current));
}

export const help: CommandHelp = {
  examples: [
    ["gpu_monitor run -c /etc/gpu_monitor/config.json", "the agent as the service runs it; SIGTERM or Ctrl-C stops it (exit 0), SIGHUP reloads the config"],
    ["gpu_monitor run --offline --metrics-listen 127.0.0.1:9400", "sample and serve Prometheus metrics, send nothing"],
  ],
  exitCodes: { 1: "the agent could not start: another agent holds the database, or it cannot be used" },
};

export default defineCommand({
  meta: { name: "run", description: "Run the agent in the foreground (what the service executes)" },
  args: {
    ...configArg,
    offline: { type: "boolean", alias: "o", description: "Collect and aggregate, send nothing" },
    verbose: { type: "boolean", alias: "v", description: "Debug logging" },
    "log-level": { type: "string", alias: "l", description: "DEBUG, INFO, WARNING, ERROR or CRITICAL", valueHint: "level" },
    "metrics-listen": { type: "string", description: "Serve Prometheus metrics on this address (overrides metrics.listen)", valueHint: "host:port" },
    ...nvmlLibraryArg,
  },
  async run({ args }) {
    await runAgentCommand({
      config: args.config,
      offline: args.offline,
      verbose: args.verbose,
      logLevel: args["log-level"],
      nvmlLibrary: args["nvml-library"],
      metricsListen: args["metrics-listen"],
    });
  },
});
