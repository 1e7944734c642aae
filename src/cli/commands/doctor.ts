import { defineCommand } from "citty";
import type { CommandHelp } from "../help.ts";
import { runChecks } from "../../doctor/checks.ts";
import { EXIT, UsageError } from "../errors.ts";
import { doctorJson, doctorText } from "../format/doctor.ts";
import { configArg, nvmlLibraryArg } from "../shared.ts";

export const help: CommandHelp = {
  examples: [
    ["gpu_monitor doctor -c /etc/gpu_monitor/config.json", "every check, one line each, with what to do when it fails"],
    ["gpu_monitor doctor -f json | jq '.checks[] | select(.status != \"pass\")'", "what is not right, for a script"],
  ],
  exitCodes: { 1: "a check failed (FAIL)" },
};

export default defineCommand({
  meta: { name: "doctor", description: "Check NVML, every GPU, the config, the database, the log, the server and the service; exit 1 if any fails" },
  args: {
    format: { type: "string", alias: "f", description: "text, or json for scripts: {healthy, checks: [{name, status, detail}]}", valueHint: "text|json", default: "text" },
    ...configArg,
    ...nvmlLibraryArg,
  },
  async run({ args }) {
    if (args.format !== "text" && args.format !== "json") throw new UsageError(`--format must be text or json, not '${args.format}'`);
    const checks = await runChecks({ config: args.config || undefined, nvmlLibrary: args["nvml-library"] || undefined });
    process.stdout.write(args.format === "json" ? doctorJson(checks) : doctorText(checks));
    if (checks.some((check) => check.status === "fail")) process.exitCode = EXIT.failure;
  },
});
