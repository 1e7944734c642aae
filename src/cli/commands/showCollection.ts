// -sc / --show-collection [TIME] of the original tool.
import { aggregationPeriodSeconds } from "../../aggregate/aggregator.ts";
import { showCollection } from "../../query/collection.ts";
import { stdoutOutput, writeRecords, type QueryFormat } from "../../query/writer.ts";
import { Store } from "../../store/store.ts";
import { EXIT } from "../errors.ts";
import { commandConfig } from "../shared.ts";

export async function showCollectionCommand(
  time: string,
  flags: { config?: string | undefined; outputFormat?: string | undefined },
): Promise<number> {
  const { config } = commandConfig({ config: flags.config });
  return Store.using(config.database.file, { readonly: true }, async (store) => {
    const period = aggregationPeriodSeconds(config.collection);
    const result = showCollection(store, time, period, Math.floor(Date.now() / 1000));
    const format = (flags.outputFormat ?? "json") as QueryFormat;
    if ((await writeRecords(result.batches, format, stdoutOutput, { columns: result.columns })) === 0) {
      process.stderr.write(`No data for ${time === "" ? "the current window" : time}: searched ${result.searched} in ${config.database.file}\n`);
    }
    return EXIT.ok;
  });
}
