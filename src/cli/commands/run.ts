import { defineCommand } from "citty";
import { createLogger, effectiveLevel } from "../../log.ts";
import { runAgent } from "../../schedule/agent.ts";
import { commandConfig, configArg, nvmlLibraryArg, resolveNvmlLibrary } from "../shared.ts";

export interface AgentFlags {
  config?: string | undefined;
  offline?: boolean | undefined;
  verbose?: boolean | undefined;
  logLevel?: string | undefined;
  nvmlLibrary?: string | undefined;
}

/** Runs the agent until SIGTERM or SIGINT, then returns (exit 0). */
export async function startAgent(flags: AgentFlags): Promise<void> {
  const loaded = commandConfig({ config: flags.config });
  const logger = createLogger(effectiveLevel(loaded.config.logging.level, flags));
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info(`${signal} received: finishing the tick in flight`);
    stop.abort();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  try {
    await runAgent({
      config: loaded.config,
      logger,
      stop: stop.signal,
      offline: flags.offline === true || loaded.offline,
      nvmlLibrary: resolveNvmlLibrary({ "nvml-library": flags.nvmlLibrary }, loaded),
    });
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
  }
}

export default defineCommand({
  meta: { name: "run", description: "Run the agent in the foreground (what the service executes)" },
  args: {
    ...configArg,
    offline: { type: "boolean", alias: "o", description: "Collect and aggregate, send nothing" },
    verbose: { type: "boolean", alias: "v", description: "Debug logging" },
    "log-level": { type: "string", alias: "l", description: "DEBUG, INFO, WARNING, ERROR or CRITICAL", valueHint: "level" },
    ...nvmlLibraryArg,
  },
  async run({ args }) {
    await startAgent({
      config: args.config,
      offline: args.offline,
      verbose: args.verbose,
      logLevel: args["log-level"],
      nvmlLibrary: args["nvml-library"],
    });
  },
});
