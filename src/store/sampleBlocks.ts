// Raw samples of closed 10-minute spans, kept as one block per GPU per span: each
// metric's values over the span in a column of its own, delta- and run-length-encoded
// (columnCodec.ts). A sample costs about a third of a table row, exactly the
// same numbers come back, and reading an hour of 8 GPUs is 48 rows instead of 28,800.
// Pure: rows in, bytes out, and back.

import { decodeColumn, encodeColumn, unknownShape, type ColumnShape } from "./columnCodec.ts";

/**
 * A block holds the samples of one GPU in one aligned 10-minute span: a minute's
 * query decodes at most 10 minutes of values, and the per-block overhead (a
 * header and 21 column starts) stays under 1 % of the data at a 1 s interval.
 */
export const BLOCK_SECONDS = 600;

/** The metrics of a raw sample, as stored in `samples` and in blocks, in this order. */
export const SAMPLE_COLUMNS = [
  "temperature",
  "memory_used",
  "memory_free",
  "gpu_utilization",
  "memory_utilization",
  "power_mw",
  "power_limit_mw",
  "fan_speed",
  "graphics_clock",
  "sm_clock",
  "memory_clock",
  "energy_mj",
  "performance_state",
  "clock_event_reasons",
  "ecc_errors_corrected",
  "ecc_errors_uncorrected",
  "encoder_utilization",
  "decoder_utilization",
  "pcie_link_generation",
  "pcie_link_width",
] as const;

export type SampleColumn = (typeof SAMPLE_COLUMNS)[number];

/** One GPU's raw sample as stored: its time, its GPU and every metric. */
export type SampleRow = { ts: number; gpu_id: number } & Record<SampleColumn, number | null>;

/**
 * The block's column names in the table. Free memory is kept as free + used:
 * their sum is the GPU's usable memory, constant while it is installed, so the
 * column shrinks to a few bytes (decoded: stored - used; stored as is where used is null).
 */
export const BLOCK_COLUMNS: readonly string[] = SAMPLE_COLUMNS.map((column) =>
  column === "memory_free" ? "memory_free_plus_used" : column,
);

const MEMORY_FREE = SAMPLE_COLUMNS.indexOf("memory_free");
const MEMORY_USED = SAMPLE_COLUMNS.indexOf("memory_used");

/**
 * How often the agent compacts the spans that have closed: each one as it closes
 * at intervals up to 10 s, less often beyond (hourly from 60 s). A compaction's cost
 * is mostly fixed (its code and statements come back cold after a while unused):
 * worth it for a span's 4,800 rows at 1 s with 8 GPUs, not for its 80 at 60 s. A
 * multiple of BLOCK_SECONDS, so that each boundary closes a span.
 */
export function compactionPeriodSeconds(intervalSeconds: number): number {
  return Math.min(3600, BLOCK_SECONDS * Math.max(1, Math.ceil(intervalSeconds / 10)));
}

export function blockStart(ts: number): number {
  return Math.floor(ts / BLOCK_SECONDS) * BLOCK_SECONDS;
}

export interface EncodedBlock {
  sampleCount: number;
  firstTs: number;
  lastTs: number;
  /** The steps between timestamps (the first from the block's start): a steady interval is one run. */
  ts: Uint8Array;
  /** One per SAMPLE_COLUMNS entry, in that order. */
  columns: Uint8Array[];
}

/** Encodes one GPU's samples of one block; rows must be ordered by time, without repeats. */
export function encodeBlock(start: number, rows: readonly SampleRow[]): EncodedBlock {
  const steps = new Array<number>(rows.length);
  let previous = start;
  for (let i = 0; i < rows.length; i++) {
    steps[i] = rows[i]!.ts - previous;
    previous = rows[i]!.ts;
  }
  const values = new Array<number | null>(rows.length);
  const columns = SAMPLE_COLUMNS.map((column, index) => {
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      let value = row[column];
      if (index === MEMORY_FREE && value !== null && row.memory_used !== null) value += row.memory_used;
      values[i] = value;
    }
    return encodeColumn(values);
  });
  return { sampleCount: rows.length, firstTs: rows[0]?.ts ?? start, lastTs: rows.at(-1)?.ts ?? start, ts: encodeColumn(steps), columns };
}

/**
 * A block's times and the columns asked for (by index in SAMPLE_COLUMNS),
 * decoded up to the last sample before `to`: a minute early in a block decodes
 * only that far.
 */
export function decodeBlockColumns(
  start: number,
  sampleCount: number,
  ts: Uint8Array,
  columns: ReadonlyMap<number, Uint8Array>,
  to = Infinity,
): { ts: number[]; values: Map<number, Array<number | null>>; shapes: Map<number, ColumnShape> } {
  const times = decodeColumn(ts, sampleCount) as number[];
  let time = start;
  let length = sampleCount;
  for (let i = 0; i < sampleCount; i++) {
    times[i] = time += times[i]!;
    if (time >= to) {
      length = i;
      break;
    }
  }
  times.length = length;
  const values = new Map<number, Array<number | null>>();
  const shapes = new Map<number, ColumnShape>();
  for (const [index, bytes] of columns) {
    const shape = unknownShape();
    const decoded = decodeColumn(bytes, sampleCount, length, shape);
    decoded.length = length;
    values.set(index, decoded);
    shapes.set(index, shape);
  }
  const free = values.get(MEMORY_FREE);
  if (free) {
    shapes.get(MEMORY_FREE)!.known = false; // what was stored is free + used
    const used = values.get(MEMORY_USED);
    if (!used) throw new Error("free memory decodes only with used memory");
    for (let i = 0; i < length; i++) {
      const value = free[i]!;
      if (value !== null && used[i] !== null) free[i] = value - used[i]!;
    }
  }
  return { ts: times, values, shapes };
}

/** One GPU's samples as columns: times ascending, and every SAMPLE_COLUMNS column in that order. */
export interface SampleColumns {
  gpuId: number;
  ts: number[];
  values: Array<Array<number | null>>;
  /** Per column, what decoding its block saw of it (a block's columns only, not rows read from the table). */
  shapes?: ColumnShape[];
}

const ALL_COLUMNS = SAMPLE_COLUMNS.map((_, index) => index);

/** The columns of one stored block with ts in [from, to). */
export function blockColumns(
  gpuId: number,
  start: number,
  sampleCount: number,
  ts: Uint8Array,
  columns: readonly Uint8Array[],
  from = -Infinity,
  to = Infinity,
): SampleColumns {
  const decoded = decodeBlockColumns(start, sampleCount, ts, new Map(ALL_COLUMNS.map((index) => [index, columns[index]!])), to);
  let first = 0; // decoded up to `to` already; a range starting inside the block skips its first samples
  while (first < decoded.ts.length && decoded.ts[first]! < from) first++;
  const cut = <T>(values: T[]) => (first === 0 ? values : values.slice(first));
  return {
    gpuId,
    ts: cut(decoded.ts),
    values: ALL_COLUMNS.map((index) => cut(decoded.values.get(index)!)),
    shapes: ALL_COLUMNS.map((index) => decoded.shapes.get(index)!), // still true of a cut's fewer values
  };
}

/** Of series each read up to its head, the one whose next time is earliest (the first on a tie), or -1 when all are read. */
function earliestHead(series: readonly SampleColumns[], heads: readonly number[]): number {
  let earliest = -1;
  for (let k = 0; k < series.length; k++) {
    const time = series[k]!.ts[heads[k]!];
    if (time !== undefined && (earliest < 0 || time < series[earliest]!.ts[heads[earliest]!]!)) earliest = k;
  }
  return earliest;
}

/**
 * One GPU's columns from parts each ordered by time. Where two parts hold the
 * same time, the earlier part wins: pass newer data (raw rows) first.
 */
export function mergeColumns(parts: readonly SampleColumns[]): SampleColumns {
  const live = parts.filter((part) => part.ts.length > 0);
  if (live.length <= 1) return live[0] ?? parts[0]!;
  const ts: number[] = [];
  const values: Array<Array<number | null>> = ALL_COLUMNS.map(() => []);
  const heads = new Array<number>(live.length).fill(0);
  for (;;) {
    const best = earliestHead(live, heads);
    if (best < 0) return { gpuId: live[0]!.gpuId, ts, values };
    const part = live[best]!;
    const at = heads[best]!++;
    if (ts.length > 0 && ts[ts.length - 1] === part.ts[at]) continue; // an earlier part had this time
    ts.push(part.ts[at]!);
    for (let c = 0; c < values.length; c++) values[c]!.push(part.values[c]![at]!);
  }
}

/** Rows ordered by time then GPU from columns ordered by GPU (one span's, as sampleColumns yields them). */
export function rowsOfColumns(span: readonly SampleColumns[]): SampleRow[] {
  const rows: SampleRow[] = [];
  const heads = new Array<number>(span.length).fill(0);
  for (;;) {
    const next = earliestHead(span, heads);
    if (next < 0) return rows;
    const { gpuId, ts, values: c } = span[next]!;
    const i = heads[next]!++;
    // Written out in full: one object shape for every row keeps the readers fast.
    rows.push({
      ts: ts[i]!,
      gpu_id: gpuId,
      temperature: c[0]![i]!,
      memory_used: c[1]![i]!,
      memory_free: c[2]![i]!,
      gpu_utilization: c[3]![i]!,
      memory_utilization: c[4]![i]!,
      power_mw: c[5]![i]!,
      power_limit_mw: c[6]![i]!,
      fan_speed: c[7]![i]!,
      graphics_clock: c[8]![i]!,
      sm_clock: c[9]![i]!,
      memory_clock: c[10]![i]!,
      energy_mj: c[11]![i]!,
      performance_state: c[12]![i]!,
      clock_event_reasons: c[13]![i]!,
      ecc_errors_corrected: c[14]![i]!,
      ecc_errors_uncorrected: c[15]![i]!,
      encoder_utilization: c[16]![i]!,
      decoder_utilization: c[17]![i]!,
      pcie_link_generation: c[18]![i]!,
      pcie_link_width: c[19]![i]!,
    });
  }
}

/**
 * Merges lists each ordered by (ts, gpu_id) into one such list. Where two hold
 * the same (ts, gpu_id), the earlier list wins: pass newer data first.
 */
export function mergeOrdered(lists: readonly (readonly SampleRow[])[]): SampleRow[] {
  const live = lists.filter((list) => list.length > 0);
  if (live.length === 1) return [...live[0]!];
  const heads = new Array<number>(live.length).fill(0);
  const out: SampleRow[] = [];
  let last: SampleRow | null = null;
  for (;;) {
    let best = -1;
    let bestRow: SampleRow | null = null;
    for (let k = 0; k < live.length; k++) {
      const row = live[k]![heads[k]!];
      if (row === undefined) continue;
      if (bestRow === null || row.ts < bestRow.ts || (row.ts === bestRow.ts && row.gpu_id < bestRow.gpu_id)) {
        best = k;
        bestRow = row;
      }
    }
    if (bestRow === null) return out;
    heads[best]!++;
    if (last !== null && last.ts === bestRow.ts && last.gpu_id === bestRow.gpu_id) continue;
    out.push(bestRow);
    last = bestRow;
  }
}
