import { defineCommand } from "citty";
import type { CommandHelp } from "../help.ts";
import { readUsage, USAGE_GROUPINGS, type UsageGrouping } from "../../query/usage.ts";
import { Store } from "../../store/store.ts";
import { UsageError } from "../errors.ts";
import { usageCsv, usageJson, usageTable } from "../format/usage.ts";
import { commandConfig, configArg, timeRange } from "../shared.ts";

export const help: CommandHelp = {
  usage: "--from TIME [options]",
  examples: [
    ["gpu_monitor usage --from -30d", "GPU-hours, busy hours, energy and peak memory per GPU over 30 days"],
    ["gpu_monitor usage --from 2026-11-01 --to 2026-12-01 -f csv > november.csv", "a month for a billing spreadsheet"],
  ],
  exitCodes: { 1: "the database cannot be read (none yet, locked, corrupt)" },
};

const FORMATS = ["table", "json", "csv"] as const;

export default defineCommand({
  meta: { name: "usage", description: "Usage to bill by over a range, from the stored windows: GPU-hours present and busy, energy, utilization, peak memory" },
  args: {
    from: { type: "string", description: "Start of the range (windows starting at or after it)", valueHint: "TIME", required: true },
    to: { type: "string", description: "End of the range (exclusive; default now)", valueHint: "TIME" },
    by: { type: "string", description: `Group by ${USAGE_GROUPINGS.join(", ")}`, valueHint: USAGE_GROUPINGS.join("|"), default: "gpu" },
    format: { type: "string", alias: "f", description: "table, json or csv", valueHint: "table|json|csv", default: "table" },
    ...configArg,
  },
  async run({ args }) {
    const format = args.format as (typeof FORMATS)[number];
    if (!FORMATS.includes(format)) throw new UsageError(`--format must be table, json or csv, not '${args.format}'`);
    const by = args.by as UsageGrouping;
    if (!USAGE_GROUPINGS.includes(by)) throw new UsageError(`--by must be one of ${USAGE_GROUPINGS.join(", ")}, not '${args.by}'`);
    const now = Date.now() / 1000;
    const { from, to } = timeRange(args.from, args.to, now, Math.floor(now) + 1);
    const { config } = commandConfig(args);
    const summary = await Store.using(config.database.file, { readonly: true }, (store) => readUsage(store, from, to, by));
    process.stdout.write(format === "json" ? usageJson(summary) : format === "csv" ? usageCsv(summary) : usageTable(summary));
  },
});
