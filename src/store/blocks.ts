// Raw samples of closed 10-minute spans, kept as one block per GPU per span: each
// metric's values over the span in a column of its own, delta- and run-length-encoded
// (columnCodec.ts). A sample costs about a third of a table row, exactly the same
// numbers come back, and an hour of 8 GPUs is 48 rows to read instead of 28,800.
// Pure: columns in, bytes out, and back.

import { SAMPLE_METRICS, sampleColumnIndex } from "../metrics/catalog.ts";
import { decodeColumn, encodeColumn } from "./columnCodec.ts";
import type { SampleColumns } from "./columns.ts";
import { blockColumnName } from "./schema.ts";

/**
 * A block holds the samples of one GPU in one aligned 10-minute span: a minute's
 * query decodes at most 10 minutes of values, and the per-block overhead stays
 * under 1 % of the data at a 1 s interval.
 */
export const BLOCK_SECONDS = 600;

/**
 * How often the agent compacts the spans that have closed: each one as it closes
 * at intervals up to 10 s, less often beyond (hourly from 60 s), so that a
 * compaction always has enough rows to be worth its fixed cost. A multiple of
 * BLOCK_SECONDS, so that each boundary closes a span.
 */
export function compactionPeriodSeconds(intervalSeconds: number): number {
  return Math.min(3600, BLOCK_SECONDS * Math.max(1, Math.ceil(intervalSeconds / 10)));
}

export function blockStart(ts: number): number {
  return Math.floor(ts / BLOCK_SECONDS) * BLOCK_SECONDS;
}

/** The block's column names in the table, in SAMPLE_METRICS order. */
export const BLOCK_COLUMNS: readonly string[] = SAMPLE_METRICS.map(blockColumnName);

/** Columns stored in blocks as their sum with another (catalog `blockSum`): [column, the other], by index. */
const SUMS: ReadonlyArray<readonly [number, number]> = SAMPLE_METRICS.flatMap((metric, c) =>
  metric.blockSum ? [[c, sampleColumnIndex(metric.blockSum.plus)] as const] : [],
);

export interface EncodedBlock {
  sampleCount: number;
  firstTs: number;
  lastTs: number;
  /** The steps between timestamps (the first from the block's start): a steady interval is one run. */
  ts: Uint8Array;
  /** One per BLOCK_COLUMNS entry, in that order. */
  columns: Uint8Array[];
}

/** Encodes one GPU's samples of the span starting at `start`. */
export function encodeBlock(start: number, samples: SampleColumns): EncodedBlock {
  const { ts } = samples;
  const steps = ts.map((time, i) => time - (i === 0 ? start : ts[i - 1]!));
  const columns = samples.values.map((values, c) => {
    const sum = SUMS.find(([column]) => column === c);
    if (!sum) return encodeColumn(values);
    const other = samples.values[sum[1]]!;
    // Where either is missing, the value is stored as it is.
    return encodeColumn(values.map((value, i) => (value !== null && other[i] !== null ? value + other[i]! : value)));
  });
  return { sampleCount: ts.length, firstTs: ts[0] ?? start, lastTs: ts.at(-1) ?? start, ts: encodeColumn(steps), columns };
}

/**
 * One stored block's samples with ts in [from, to). Values after `to` are not
 * decoded: a minute early in a span decodes only that far. A column a block does
 * not have (the metric came after the block was written) reads as nulls.
 */
export function decodeBlock(
  gpuId: number,
  start: number,
  sampleCount: number,
  tsBytes: Uint8Array,
  columnBytes: ReadonlyArray<Uint8Array | null>,
  from = -Infinity,
  to = Infinity,
): SampleColumns {
  const times = decodeColumn(tsBytes, sampleCount) as number[];
  let time = start;
  let length = sampleCount;
  for (let i = 0; i < sampleCount; i++) {
    times[i] = time += times[i]!;
    if (time >= to) {
      length = i;
      break;
    }
  }
  let first = 0;
  while (first < length && times[first]! < from) first++;
  const values = columnBytes.map((bytes) => {
    const decoded = bytes === null ? new Array<number | null>(length).fill(null) : decodeColumn(bytes, sampleCount, length);
    decoded.length = length;
    return decoded;
  });
  for (const [column, plus] of SUMS) {
    const sum = values[column]!;
    const other = values[plus]!;
    for (let i = 0; i < length; i++) if (sum[i] !== null && other[i] !== null) sum[i] = sum[i]! - other[i]!;
  }
  times.length = length;
  const cut = <T>(list: T[]) => (first === 0 ? list : list.slice(first));
  return { gpuId, ts: cut(times), values: values.map(cut) };
}
