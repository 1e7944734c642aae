import { defineCommand } from "citty";
import { runChecks, type CheckStatus } from "../../doctor/checks.ts";
import { escapeControl } from "../../util/text.ts";
import { EXIT } from "../errors.ts";
import { configArg, nvmlLibraryArg } from "../shared.ts";

const MARK: Record<CheckStatus, string> = { pass: "PASS", fail: "FAIL", warn: "WARN" };

export default defineCommand({
  meta: { name: "doctor", description: "Check NVML, every GPU, the config, the database, the log, the server and the service; exit 1 if any fails" },
  args: { ...configArg, ...nvmlLibraryArg },
  async run({ args }) {
    const checks = await runChecks({ config: args.config || undefined, nvmlLibrary: args["nvml-library"] || undefined });
    const width = Math.max(...checks.map((check) => check.name.length));
    for (const check of checks) process.stdout.write(`${MARK[check.status]}  ${check.name.padEnd(width)}  ${escapeControl(check.detail)}\n`);
    if (checks.some((check) => check.status === "fail")) process.exitCode = EXIT.failure;
  },
});
