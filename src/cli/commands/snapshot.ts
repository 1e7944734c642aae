import { defineCommand } from "citty";
import type { CommandHelp } from "../help.ts";
import { hostname } from "node:os";
import { snapshotDocument } from "../../collect/snapshot.ts";
import { ProcessNameCache, osProcessNameLookup } from "../../collect/processNames.ts";
import { ProcessOwners } from "../../collect/processOwners.ts";
import { hostSummary, takeSample, takeSampleWithActivity } from "../../collect/sample.ts";
import { openNvml, type Nvml } from "../../nvml/index.ts";
import { escapeControl } from "../../util/text.ts";
import { UsageError } from "../errors.ts";
import { renderSnapshot, snapshotJsonLine, type SnapshotFormat } from "../format/snapshot.ts";
import { redrawFrame, watchHeader } from "../format/watch.ts";
import { stopOnSignals, watch } from "../watch.ts";
import { commandConfig, configArg, nvmlLibraryArg, resolveNvmlLibrary } from "../shared.ts";

const FORMATS: readonly SnapshotFormat[] = ["json", "csv", "table"];

export const help: CommandHelp = {
  examples: [
    ["gpu_monitor snapshot --watch", "a table redrawn every 2 s, utilization as bars (JSON Lines when piped); Ctrl-C ends it"],
    ["gpu_monitor snapshot -f json | jq '.gpus[] | {name, temperature}'", "every GPU now, for a script"],
  ],
  optionalValues: { watch: "2" },
  exitCodes: {
    0: "success; --watch: stopped by Ctrl-C or SIGTERM",
    1: "a GPU could not be read (the others are still printed)",
    3: "NVML unavailable: no library, or the driver not loaded",
  },
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
    watch: {
      type: "string",
      description: "Read again every SECONDS (default 2) until Ctrl-C: on a terminal a table redrawn in place, utilization as bars; piped or with -f json, one JSON document a line (JSON Lines)",
      valueHint: "SECONDS",
    },
    ...configArg,
    ...nvmlLibraryArg,
  },
  async run({ args }) {
    const format = args.format as SnapshotFormat;
    if (!FORMATS.includes(format)) {
      throw new UsageError(`--format must be one of ${FORMATS.join(", ")}, not '${args.format}' (e.g. --format json)`);
    }
    const intervalSeconds = args.watch === undefined ? null : watchSeconds(args.watch);
    if (intervalSeconds !== null && format === "csv") throw new UsageError("--watch prints a table or JSON Lines (-f json), not csv");
    const nvml = openNvml({ libraryPath: resolveNvmlLibrary(args, commandConfig(args)) });
    try {
      const names = new ProcessNameCache(osProcessNameLookup(), (pid) => nvml.processName(pid));
      const owners = process.platform === "linux" ? new ProcessOwners() : null;
      if (intervalSeconds !== null) {
        await watchSnapshots(nvml, names, owners, intervalSeconds, format === "table" && process.stdout.isTTY === true);
        return;
      }
      const sample = takeSampleWithActivity(nvml, names, undefined, owners);
      process.stdout.write(renderSnapshot(snapshotDocument(sample, hostSummary(nvml, sample.gpuCount), hostname()), sample.gpus, format));
      if (sample.gpuCount === 0) process.stderr.write("NVML reports no GPUs on this host\n");
      for (const failure of sample.failures) process.stderr.write(`gpu_monitor: ${escapeControl(failure.message)}\n`);
      if (sample.failures.length > 0) process.exitCode = 1;
    } finally {
      nvml.close();
    }
  },
});

/** --watch's SECONDS: a number of seconds, at least 0.1. */
function watchSeconds(text: string): number {
  const seconds = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!(seconds >= 0.1)) throw new UsageError(`--watch takes a number of seconds of at least 0.1, such as --watch 5, not '${text}'`);
  return seconds;
}

/**
 * Every `intervalSeconds` until SIGINT or SIGTERM (then exit 0), with the NVML
 * session and process names opened once: a table redrawn in place on a terminal,
 * else one JSON document a line.
 */
async function watchSnapshots(nvml: Nvml, names: ProcessNameCache, owners: ProcessOwners | null, intervalSeconds: number, table: boolean): Promise<void> {
  const stop = stopOnSignals();
  try {
    await watch({
      intervalMs: intervalSeconds * 1000,
      stop: stop.signal,
      frame(first) {
        const sample = takeSample(nvml, names, undefined, owners);
        const document = snapshotDocument(sample, hostSummary(nvml, sample.gpuCount), hostname());
        if (!table) return void process.stdout.write(snapshotJsonLine(document));
        const text = `${watchHeader(intervalSeconds)}\n\n${renderSnapshot(document, sample.gpus, "table", { bars: true })}`;
        process.stdout.write(redrawFrame(text, first));
      },
    });
  } finally {
    stop.release();
  }
}
