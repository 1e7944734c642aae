import { defineCommand } from "citty";
import type { CommandHelp } from "../help.ts";
import { SAMPLE_COLUMNS, sampleBatches, WINDOW_COLUMNS, windowBatches } from "../../query/batches.ts";
import { QUERY_FORMATS, stdoutOutput, writeRecords, type QueryFormat } from "../../query/writer.ts";
import { formatTime } from "../../util/time.ts";
import { Store } from "../../store/store.ts";
import { UsageError } from "../errors.ts";
import { commandConfig, configArg, timeRange } from "../shared.ts";

export const help: CommandHelp = {
  usage: "--from TIME [options]",
  examples: [
    ["gpu_monitor export --from -2h -f csv > last-2h.csv", "the raw samples of the last two hours as CSV"],
    ["gpu_monitor export --from yesterday --to today --level hourly", "yesterday's window aggregates, one JSON document a line"],
  ],
  exitCodes: { 1: "the database cannot be read (none yet, locked, corrupt)" },
};

export default defineCommand({
  meta: { name: "export", description: "Raw samples or window aggregates of a time range, streamed" },
  args: {
    from: { type: "string", description: "Start of the range (inclusive)", valueHint: "TIME", required: true },
    to: { type: "string", description: "End of the range (exclusive; default now)", valueHint: "TIME" },
    level: { type: "string", description: "raw or hourly (the aggregation windows)", valueHint: "raw|hourly", default: "raw" },
    format: { type: "string", alias: "f", description: "json or csv", valueHint: "json|csv", default: "json" },
    ...configArg,
  },
  async run({ args }) {
    const format = args.format as QueryFormat;
    if (!QUERY_FORMATS.includes(format)) throw new UsageError(`--format must be json or csv, not '${args.format}'`);
    if (args.level !== "raw" && args.level !== "hourly") {
      throw new UsageError(`--level must be raw or hourly, not '${args.level}'`);
    }
    const now = Date.now() / 1000;
    const { from, to } = timeRange(args.from, args.to, now, Math.floor(now) + 1);
    const { config } = commandConfig(args);
    await Store.using(config.database.file, { readonly: true }, async (store) => {
      const batches = args.level === "raw" ? sampleBatches(store, from, to) : windowBatches(store, from, to);
      const progress = exportProgress(from, to);
      const columns = args.level === "raw" ? SAMPLE_COLUMNS : WINDOW_COLUMNS;
      const written = await writeRecords(batches, format, stdoutOutput, { style: "lines", onBatch: progress?.update, columns });
      progress?.done();
      if (written === 0) {
        const what = args.level === "raw" ? "raw samples" : "aggregates";
        process.stderr.write(`No data: no ${what} from ${formatTime(from)} to ${formatTime(to)} in ${config.database.file}\n`);
      }
    });
  },
});

/**
 * A progress line on stderr while a long export runs, when stderr is a terminal:
 * how far through the range it is. Redrawn at most a few times a second.
 */
function exportProgress(from: number, to: number): { update: (lastTs: number) => void; done: () => void } | null {
  if (!process.stderr.isTTY) return null;
  let drawnAt = 0;
  let drawn = false;
  return {
    update(lastTs) {
      const now = performance.now();
      if (now - drawnAt < 250) return;
      drawnAt = now;
      drawn = true;
      const share = Math.min(1, Math.max(0, (lastTs - from) / (to - from)));
      process.stderr.write(`\rexporting: ${formatTime(lastTs)} (${(share * 100).toFixed(0)} %)\x1b[K`);
    },
    done() {
      if (drawn) process.stderr.write("\r\x1b[K");
    },
  };
}
