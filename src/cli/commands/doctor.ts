import { defineCommand } from "citty";
import { runChecks } from "../../doctor/checks.ts";
import { EXIT, UsageError } from "../errors.ts";
import { doctorJson, doctorText } from "../format/doctor.ts";
import { configArg, nvmlLibraryArg } from "../shared.ts";

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
