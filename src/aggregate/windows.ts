// Aggregation windows and each GPU's summary of one. Pure: samples in, summaries
// out. Windows are aligned to multiples of their length since the Unix epoch
// (UTC), so a DST change or a restart can never shift them.

import { SAMPLE_METRICS, WINDOW_METRICS } from "../metrics/catalog.ts";
import type { SampleColumns } from "../store/columns.ts";
import type { GpuWindowSummary } from "../store/windows.ts";
import { windowFields, type WindowXid } from "./windowFields.ts";

export function windowStart(ts: number, periodSeconds: number): number {
  return Math.floor(ts / periodSeconds) * periodSeconds;
}

/** Starts of the windows that have closed by `now`, from the one holding `fromTs`. */
export function closedWindowStarts(fromTs: number, now: number, periodSeconds: number): number[] {
  const starts: number[] = [];
  for (let start = windowStart(fromTs, periodSeconds); start + periodSeconds <= now; start += periodSeconds) starts.push(start);
  return starts;
}

export interface WindowInput {
  start: number;
  periodSeconds: number;
  intervalSeconds: number;
  /** Each GPU's samples from `baselineFrom(start, interval)` to the window's end. */
  series: readonly SampleColumns[];
  /** GPUs that get a summary even without samples here (they were present before the window). */
  expectedGpus: Iterable<number>;
  /** XIDs within the window, by GPU id. */
  xids?: ReadonlyMap<number, readonly WindowXid[]>;
}

/**
 * Where a window's read starts: a counter's step from the last sample before the
 * window counts in it when that sample is at most two intervals before the
 * start, so no energy falls between windows and none is counted twice.
 */
export function baselineFrom(start: number, intervalSeconds: number): number {
  return start - 2 * intervalSeconds;
}

const WINDOW_COLUMN_INDEX = WINDOW_METRICS.map((metric) => SAMPLE_METRICS.indexOf(metric));
/** Where the energy counter's increase sits among a summary's values. */
const ENERGY_VALUE_INDEX = WINDOW_METRICS.flatMap((metric) => (metric.kind === "counter" ? [metric.column] : [metric.column, null, null])).indexOf("energy_mj");

export function aggregateWindow(input: WindowInput): GpuWindowSummary[] {
  const expected = input.periodSeconds / input.intervalSeconds;
  const byGpu = new Map<number, SampleColumns | null>();
  for (const gpuId of input.expectedGpus) byGpu.set(gpuId, null);
  for (const series of input.series) {
    if (byGpu.has(series.gpuId) || (series.ts.at(-1) ?? -Infinity) >= input.start) byGpu.set(series.gpuId, series);
  }
  return [...byGpu]
    .sort((a, b) => a[0] - b[0])
    .map(([gpuId, series]) => {
      // Samples before the window are there for the counters' baseline only.
      let first = 0;
      while (series && first < series.ts.length && series.ts[first]! < input.start) first++;
      const count = series ? series.ts.length - first : 0;
      const hasBaseline = first > 0 && input.start - series!.ts[first - 1]! <= 2 * input.intervalSeconds;
      const values: Array<number | string | null> = [];
      WINDOW_METRICS.forEach((metric, m) => {
        const column = series?.values[WINDOW_COLUMN_INDEX[m]!] ?? [];
        if (metric.kind === "counter") {
          values.push(counterIncrease(column, first, hasBaseline ? column[first - 1]! : null));
        } else {
          values.push(...gaugeSummary(column, first));
        }
      });
      const fields = windowFields({
        series,
        first,
        hasBaseline,
        periodSeconds: input.periodSeconds,
        intervalSeconds: input.intervalSeconds,
        xids: input.xids?.get(gpuId) ?? [],
        energyFromCounter: values[ENERGY_VALUE_INDEX] as number | null,
      });
      values[ENERGY_VALUE_INDEX] = fields.energy;
      values.push(...fields.values);
      return { gpuId, sampleCount: count, coverage: expected > 0 ? Math.min(1, count / expected) : 0, values };
    });
}

/** Average, minimum and maximum of the values from `first` on, in time order; nulls skipped. */
function gaugeSummary(values: readonly (number | null)[], first: number): [number | null, number | null, number | null] {
  let sum = 0;
  let count = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = first; i < values.length; i++) {
    const value = values[i]!;
    if (value === null) continue;
    sum += value;
    count++;
    if (value < min) min = value;
    if (value > max) max = value;
  }
  return count === 0 ? [null, null, null] : [sum / count, min, max];
}

/**
 * Sums a counter's increases between consecutive samples from `first` on, starting
 * from `baseline`. A decrease is a reset (driver reload): that step is skipped and
 * counting goes on from the new value. Null when no step could be formed.
 */
function counterIncrease(values: readonly (number | null)[], first: number, baseline: number | null): number | null {
  let last = baseline;
  let total: number | null = null;
  for (let i = first; i < values.length; i++) {
    const value = values[i]!;
    if (value === null) continue;
    if (last !== null && value >= last) total = (total ?? 0) + (value - last);
    last = value;
  }
  return total;
}
