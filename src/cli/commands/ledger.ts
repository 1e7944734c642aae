// -ls / --list-sends and -ss / --search-send of the original tool.
import { aggregationPeriodSeconds } from "../../aggregate/aggregator.ts";
import { windowStart } from "../../aggregate/windows.ts";
import { formatTime, parseTime } from "../../util/time.ts";
import { Store } from "../../store/store.ts";
import { EXIT, UsageError } from "../errors.ts";
import { listSendsJson, listSendsTable, searchSendJson, searchSendText } from "../format/ledger.ts";
import type { Config } from "../../config/schema.ts";
import { commandConfig } from "../shared.ts";

function readLedger<T>(configPath: string | undefined, use: (store: Store, config: Config) => T): Promise<T> {
  const { config } = commandConfig({ config: configPath });
  return Store.using(config.database.file, { readonly: true }, (store) => use(store, config));
}

export function listSendsCommand(flags: { config?: string | undefined; outputFormat?: string | undefined }): Promise<number> {
  const format = flags.outputFormat ?? "table";
  if (format !== "table" && format !== "json") throw new UsageError(`-ls prints table or json, not '${format}'`);
  return readLedger(flags.config, (store) => {
    const rows = store.ledger.summaries();
    process.stdout.write(format === "json" ? listSendsJson(rows) : listSendsTable(rows));
    return EXIT.ok;
  });
}

export function searchSendCommand(time: string, flags: { config?: string | undefined; outputFormat?: string | undefined }): Promise<number> {
  const format = flags.outputFormat ?? "text";
  if (format !== "text" && format !== "json") throw new UsageError(`-ss prints text or json, not '${format}'`);
  const at = parseTime(time, Date.now() / 1000);
  return readLedger(flags.config, (store, config) => {
    const { ledger } = store;
    const start = windowStart(at, aggregationPeriodSeconds(config.collection));
    const row = ledger.summary(start);
    if (!row) process.stderr.write(`No window starts at ${formatTime(start)} (the window holding ${time}) in ${store.file}\n`);
    if (format === "json") process.stdout.write(searchSendJson(row ?? null, row ? ledger.attempts(start) : []));
    else if (row) process.stdout.write(searchSendText(row, ledger.attempts(start)));
    return EXIT.ok;
  });
}
