import { writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { resolve } from "node:path";
import { defineCommand } from "citty";
import type { CommandHelp } from "../help.ts";
import { aggregationPeriodSeconds } from "../../aggregate/aggregator.ts";
import { gatherReport } from "../../report/gather.ts";
import { renderReportHtml } from "../../report/html.ts";
import { renderReportJson } from "../../report/json.ts";
import { defaultPeriod, defaultReportFile, firstStored } from "../../report/period.ts";
import { Store } from "../../store/store.ts";
import { VERSION } from "../../version.ts";
import { UsageError } from "../errors.ts";
import { commandConfig, configArg, timeRange } from "../shared.ts";

export const help: CommandHelp = {
  examples: [
    ["gpu_monitor report", "last month's page, written to gpu_monitor-report-<host>-<from>-<to>.html here"],
    ["gpu_monitor report --from 2026-11-01 --to 2026-11-08 --out week.html", "one week's page"],
    ["gpu_monitor report --format json --out - | jq .totals", "the same figures as JSON on stdout"],
  ],
  exitCodes: { 1: "the database cannot be read (none yet, locked, corrupt), or the file cannot be written" },
};

const FORMATS = ["html", "json"] as const;
const WRITE_ERRORS: Record<string, string> = { ENOENT: "its folder does not exist", EACCES: "permission denied", EISDIR: "that is a folder", ENOSPC: "the disk is full", EROFS: "the file system is read-only" };

export default defineCommand({
  meta: { name: "report", description: "A usage report of a period as one self-contained HTML page (or its figures as JSON), from the stored windows" },
  args: {
    from: { type: "string", description: "Start of the period (default: the last full calendar month, local time)", valueHint: "TIME" },
    to: { type: "string", description: "End of the period (exclusive; default now when --from is given)", valueHint: "TIME" },
    out: { type: "string", description: "File to write, - for stdout (default: gpu_monitor-report-<host>-<from>-<to>.<format> here)", valueHint: "FILE" },
    format: { type: "string", alias: "f", description: "html or json", valueHint: "html|json", default: "html" },
    ...configArg,
  },
  async run({ args }) {
    const format = args.format as (typeof FORMATS)[number];
    if (!FORMATS.includes(format)) throw new UsageError(`--format must be html or json, not '${args.format}'`);
    if (args.to && !args.from) throw new UsageError("--to needs --from: give both, or neither for the last full month");
    const now = Date.now() / 1000;
    const given = args.from ? timeRange(args.from, args.to, now, Math.floor(now)) : null;
    const { config } = commandConfig(args);
    const host = hostname();
    const facts = {
      host,
      agentVersion: VERSION,
      generatedAt: Math.floor(now),
      uploadsConfigured: Boolean(config.server.url),
      aggregation: { periodSeconds: aggregationPeriodSeconds(config.collection), intervalSeconds: config.collection.interval_seconds },
    };
    const { period, data } = await Store.using(config.database.file, { readonly: true }, (store) => {
      const period = given ?? defaultPeriod(now, firstStored(store.windows.firstStart(), store.samples.firstTs()));
      return { period, data: gatherReport(store, period, facts) };
    });
    const text = format === "html" ? renderReportHtml(data) : renderReportJson(data);
    if (args.out === "-") {
      process.stdout.write(text);
      return;
    }
    const file = resolve(args.out || defaultReportFile(host, period, format));
    try {
      writeFileSync(file, text);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? "";
      throw new Error(`cannot write ${file}: ${WRITE_ERRORS[code] ?? (error as Error).message}`);
    }
    process.stdout.write(`${file}\n`);
  },
});

