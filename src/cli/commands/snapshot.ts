import { defineCommand } from "citty";
import type { CommandHelp } from "../help.ts";
import { hostname } from "node:os";
import { snapshotDocument } from "../../collect/snapshot.ts";
import { ProcessNameCache, osProcessNameLookup } from "../../collect/processNames.ts";
import { hostSummary, takeSample } from "../../collect/sample.ts";
import { openNvml } from "../../nvml/index.ts";
import { escapeControl } from "../../util/text.ts";
import { UsageError } from "../errors.ts";
import { renderSnapshot, type SnapshotFormat } from "../format/snapshot.ts";
import { commandConfig, configArg, nvmlLibraryArg, resolveNvmlLibrary } from "../shared.ts";

const FORMATS: readonly SnapshotFormat[] = ["json", "csv", "table"];

export const help: CommandHelp = {
  examples: [
    ["gpu_monitor snapshot --watch", "a table redrawn every 2 s, utilization as bars (JSON Lines when piped); Ctrl-C ends it"],
    ["gpu_monitor snapshot -f json | jq '.gpus[] | {name, temperature}'", "every GPU now, for a script"],
  ],
  exitCodes: { 1: "a GPU could not be read (the others are still printed)", 3: "NVML unavailable: no library, or the driver not loaded" },
};

export default defineCommand({
  meta: { name: "snapshot", description: "Read every GPU now and print it (no database, no config needed)" },
  args: {
    format: {
      type: "string",
      alias: "f",
      description: "Output format: table, json or csv",
      valueHint: "table|json|csv",
      default: "table",
    },
    ...configArg,
    ...nvmlLibraryArg,
  },
  run({ args }) {
    const format = args.format as SnapshotFormat;
    if (!FORMATS.includes(format)) {
      throw new UsageError(`--format must be one of ${FORMATS.join(", ")}, not '${args.format}' (e.g. --format json)`);
    }
    const nvml = openNvml({ libraryPath: resolveNvmlLibrary(args, commandConfig(args)) });
    try {
      const names = new ProcessNameCache(osProcessNameLookup(), (pid) => nvml.processName(pid));
      const sample = takeSample(nvml, names);
      process.stdout.write(renderSnapshot(snapshotDocument(sample, hostSummary(nvml, sample.gpuCount), hostname()), sample.gpus, format));
      if (sample.gpuCount === 0) process.stderr.write("NVML reports no GPUs on this host\n");
      for (const failure of sample.failures) process.stderr.write(`gpu_monitor: ${escapeControl(failure.message)}\n`);
      if (sample.failures.length > 0) process.exitCode = 1;
    } finally {
      nvml.close();
    }
  },
});
