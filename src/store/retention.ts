// Deleting old data in small batches, yielding between them, so a tick never
// waits long behind a prune.

import type { Store } from "./store.ts";

export interface RetentionSettings {
  rawDays: number;
  aggregatedDays: number;
}

export interface PruneResult {
  samples: number;
  windows: number;
  batches: number;
}

const DAY = 86_400;
const BLOCKS_PER_BATCH = 48;

export async function pruneOldData(
  store: Store,
  nowSeconds: number,
  settings: RetentionSettings,
  options: { batchRows?: number; yieldBetween?: () => Promise<void>; stop?: AbortSignal } = {},
): Promise<PruneResult> {
  const batchRows = options.batchRows ?? 1000;
  const pause = options.yieldBetween ?? (() => new Promise<void>((resolve) => setTimeout(resolve, 0)));
  const result: PruneResult = { samples: 0, windows: 0, batches: 0 };
  const rawCutoff = nowSeconds - settings.rawDays * DAY;
  for (;;) {
    const deleted = store.samples.pruneRows(rawCutoff, batchRows);
    result.samples += deleted;
    result.batches++;
    if (deleted < batchRows || options.stop?.aborted) break; // the rest waits for the next prune
    await pause();
  }
  // Compacted samples: a block is one GPU's 10 minutes, and deleting it hands its pages to the free list
  // whole, so a batch of 48 (an hour of 8 GPUs) takes about as long as a batch of raw rows (the storage benchmark).
  for (;;) {
    const deleted = store.samples.pruneBlocks(rawCutoff, BLOCKS_PER_BATCH);
    result.samples += deleted.samples;
    result.batches++;
    if (deleted.blocks < BLOCKS_PER_BATCH || options.stop?.aborted) break;
    await pause();
  }
  const aggregateCutoff = nowSeconds - settings.aggregatedDays * DAY;
  for (;;) {
    const deleted = store.windows.prune(aggregateCutoff, Math.max(1, Math.floor(batchRows / 20)));
    result.windows += deleted;
    result.batches++;
    if (deleted < Math.max(1, Math.floor(batchRows / 20)) || options.stop?.aborted) break;
    await pause();
  }
  // Who used the GPUs goes with the windows (a window's rows, one statement per table).
  store.processes.prune(aggregateCutoff);
  for (;;) {
    const deleted = store.events.prune(aggregateCutoff, batchRows);
    result.batches++;
    if (deleted < batchRows || options.stop?.aborted) break;
    await pause();
  }
  return result;
}
