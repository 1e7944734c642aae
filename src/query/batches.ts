// What the query commands print, as batches for the writer: stored samples a
// 10-minute span at a time, stored windows one at a time.

import { ATTRIBUTION_FIELDS, attributionEntries, inWindowOutput, RAW_METRICS, rawFields, windowEntries } from "../metrics/records.ts";
import type { WindowAttribution } from "../store/processes.ts";
import type { StoredGpu } from "../store/gpus.ts";
import type { Store } from "../store/store.ts";
import type { RecordBatch } from "./writer.ts";

export function* sampleBatches(store: Store, from: number, to: number): Generator<RecordBatch> {
  let gpus = store.gpus.all();
  for (const span of store.samples.spans(from, to)) {
    // A GPU the running agent added after the read began: look the identities up again.
    if (span.some((columns) => !gpus.has(columns.gpuId))) gpus = store.gpus.all();
    yield { gpus: span.map((columns) => ({ ts: columns.ts, fields: rawFields(gpus.get(columns.gpuId)!.identity, columns.values) })) };
  }
}

export function* windowBatches(store: Store, from: number, to: number): Generator<RecordBatch> {
  let gpus: Map<number, StoredGpu> | null = null;
  let batch: RecordBatch | null = null;
  let batchStart = NaN;
  let attribution: WindowAttribution | null = null;
  for (const window of store.windows.between(from, to)) {
    if (batch && window.windowStart !== batchStart) {
      yield batch;
      batch = null;
    }
    gpus ??= store.gpus.all();
    if (window.windowStart !== batchStart) attribution = store.processes.window(window.windowStart);
    batchStart = window.windowStart;
    batch ??= { gpus: [], periodSeconds: window.periodSeconds };
    const entries = [
      ...windowEntries(gpus.get(window.gpuId)!.identity, window, inWindowOutput),
      ...attributionEntries(attribution!.lists.get(window.gpuId), attribution!.processes.get(window.gpuId) ?? [], attribution!.users.get(window.gpuId) ?? []),
    ];
    (batch.gpus as Array<RecordBatch["gpus"][number]>).push({ ts: [window.windowStart], fields: entries.map(([name, constant]) => ({ name, constant })) });
  }
  if (batch) yield batch;
}

/** The field names of a stored sample and of a window, for a CSV header over no data. */
export const SAMPLE_COLUMNS: readonly string[] = RAW_METRICS.map((metric) => metric.name);
export const WINDOW_COLUMNS: readonly string[] = [
  ...windowEntries({}, { sampleCount: 0, coverage: 0, values: {} }, inWindowOutput).map(([name]) => name),
  ...ATTRIBUTION_FIELDS,
];
