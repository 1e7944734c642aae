// -ls / --list-sends and -ss / --search-send of the original tool.
import { aggregationPeriodSeconds } from "../../aggregate/aggregator.ts";
import { windowStart } from "../../aggregate/windows.ts";
import { formatTime, parseTime } from "../../util/time.ts";
import { asStoreError } from "../../store/database.ts";
import { Store } from "../../store/store.ts";
import { EXIT, UsageError } from "../errors.ts";
import { listSendsJson, listSendsTable, searchSendJson, searchSendText } from "../format/ledger.ts";
import { commandConfig } from "../shared.ts";

function openLedger(configPath: string | undefined) {
  const { config } = commandConfig({ config: configPath });
  const store = Store.open(config.database.file, { readonly: true });
  return { config, store, ledger: store.ledger };
}

export function listSendsCommand(flags: { config?: string | undefined; outputFormat?: string | undefined }): number {
  const format = flags.outputFormat ?? "table";
  if (format !== "table" && format !== "json") throw new UsageError(`-ls prints table or json, not '${format}'`);
  const { store, ledger } = openLedger(flags.config);
  try {
    const rows = ledger.summaries();
    process.stdout.write(format === "json" ? listSendsJson(rows) : listSendsTable(rows));
    return EXIT.ok;
  } catch (error) {
    throw asStoreError(error, store.file);
  } finally {
    store.close();
  }
}

export function searchSendCommand(time: string, flags: { config?: string | undefined; outputFormat?: string | undefined }): number {
  const format = flags.outputFormat ?? "text";
  if (format !== "text" && format !== "json") throw new UsageError(`-ss prints text or json, not '${format}'`);
  const at = parseTime(time, Date.now() / 1000);
  const { config, store, ledger } = openLedger(flags.config);
  try {
    const start = windowStart(at, aggregationPeriodSeconds(config.collection));
    const row = ledger.summary(start);
    if (!row) process.stderr.write(`No window starts at ${formatTime(start)} (the window holding ${time}) in ${store.file}\n`);
    if (format === "json") process.stdout.write(searchSendJson(row ?? null, row ? ledger.attempts(start) : []));
    else if (row) process.stdout.write(searchSendText(row, ledger.attempts(start)));
    return EXIT.ok;
  } catch (error) {
    throw asStoreError(error, store.file);
  } finally {
    store.close();
  }
}
