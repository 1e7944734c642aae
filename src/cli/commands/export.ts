import { defineCommand } from "citty";
import { aggregateGroups } from "../../query/collection.ts";
import { QUERY_FORMATS, stdoutOutput, writeGroups, type QueryFormat } from "../../query/output.ts";
import { writeRawRange } from "../../query/rawOutput.ts";
import { formatTime, parseTime } from "../../query/time.ts";
import { Store } from "../../store/store.ts";
import { UsageError } from "../errors.ts";
import { commandConfig, configArg } from "../shared.ts";

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
    const from = parseTime(args.from);
    const to = args.to ? parseTime(args.to) : Math.floor(Date.now() / 1000) + 1;
    if (to <= from) throw new UsageError(`--to (${formatTime(to)}) must be after --from (${formatTime(from)})`);
    const { config } = commandConfig(args);
    const store = Store.open(config.database.file, { readonly: true });
    try {
      const written =
        args.level === "raw"
          ? await writeRawRange(store, from, to, format, stdoutOutput)
          : await writeGroups(aggregateGroups(store, from, to), format, stdoutOutput, { compact: true });
      if (written === 0) {
        const what = args.level === "raw" ? "raw samples" : "aggregates";
        process.stderr.write(`No data: no ${what} from ${formatTime(from)} to ${formatTime(to)} in ${config.database.file}\n`);
      }
    } finally {
      store.close();
    }
  },
});
