// Aggregation windows and the per-GPU aggregate of one window. Pure: samples in,
// aggregates out. Windows are aligned to multiples of their length since the
// Unix epoch (UTC), so a DST change or a restart can never shift them.

import { AGGREGATED_METRICS, type AggregatedMetric } from "../store/schema.ts";

export function windowStart(ts: number, periodSeconds: number): number {
  return Math.floor(ts / periodSeconds) * periodSeconds;
}

/** Starts of the windows that have closed by `now`, from the one holding `fromTs`. */
export function closedWindowStarts(fromTs: number, now: number, periodSeconds: number): number[] {
  const starts: number[] = [];
  for (let start = windowStart(fromTs, periodSeconds); start + periodSeconds <= now; start += periodSeconds) {
    starts.push(start);
  }
  return starts;
}

/** The numeric columns of one stored raw sample that aggregation reads. */
export type SampleMetrics = { [K in AggregatedMetric]: number | null };

export interface RawSample extends SampleMetrics {
  ts: number;
  gpu_id: number;
  energy_mj: number | null;
}

export interface MetricSummary {
  avg: number;
  min: number;
  max: number;
}

export interface GpuAggregate {
  gpuId: number;
  sampleCount: number;
  /** Samples seen / samples expected for the window, at most 1. */
  coverage: number;
  /** Energy used in the window from the counter's deltas; null when no delta could be formed. */
  energyMillijoules: number | null;
  metrics: { [K in AggregatedMetric]: MetricSummary | null };
}

/**
 * One GPU's samples of a window as columns: times ascending, and each metric's
 * values at those times. Columns keep the aggregation loops tight (an hour of 8
 * GPUs is 400,000 values) and are how compacted blocks decode.
 */
export interface GpuSeries {
  gpuId: number;
  ts: readonly number[];
  energy: readonly (number | null)[];
  metrics: { readonly [K in AggregatedMetric]: readonly (number | null)[] };
}

export interface WindowInput {
  start: number;
  periodSeconds: number;
  intervalSeconds: number;
  /** The window's samples, one series per GPU. */
  series: readonly GpuSeries[];
  /** Each GPU's last sample before the window, to count the energy spent across the boundary. */
  previous: ReadonlyMap<number, { ts: number; energy_mj: number | null }>;
  /** GPUs that get a record even without samples here (they were present before the window). */
  expectedGpus: Iterable<number>;
}

const NO_SAMPLES = (gpuId: number): GpuSeries => seriesFromSamples([], gpuId)[0]!;

export function aggregateWindow(input: WindowInput): GpuAggregate[] {
  const expected = input.periodSeconds / input.intervalSeconds;
  const byGpu = new Map<number, GpuSeries>();
  for (const gpuId of input.expectedGpus) byGpu.set(gpuId, NO_SAMPLES(gpuId));
  for (const series of input.series) byGpu.set(series.gpuId, series);
  return [...byGpu.values()]
    .sort((a, b) => a.gpuId - b.gpuId)
    .map((series) => ({
      gpuId: series.gpuId,
      sampleCount: series.ts.length,
      coverage: expected > 0 ? Math.min(1, series.ts.length / expected) : 0,
      energyMillijoules: energyUsed(series.ts, series.energy, input.previous.get(series.gpuId), input.start, input.intervalSeconds),
      metrics: summarise(series),
    }));
}

/** Rows (any order, any GPUs) as one series per GPU, ordered by GPU. `onlyGpu` gives an empty series for that GPU when there are no rows. */
export function seriesFromSamples(samples: readonly RawSample[], onlyGpu?: number): GpuSeries[] {
  const byGpu = new Map<number, RawSample[]>();
  if (onlyGpu !== undefined) byGpu.set(onlyGpu, []);
  for (const sample of samples) {
    let list = byGpu.get(sample.gpu_id);
    if (!list) byGpu.set(sample.gpu_id, (list = []));
    list.push(sample);
  }
  return [...byGpu]
    .sort((a, b) => a[0] - b[0])
    .map(([gpuId, rows]) => {
      rows.sort((a, b) => a.ts - b.ts);
      const metrics = {} as Record<AggregatedMetric, (number | null)[]>;
      for (const metric of AGGREGATED_METRICS) metrics[metric] = rows.map((row) => row[metric]);
      return { gpuId, ts: rows.map((row) => row.ts), energy: rows.map((row) => row.energy_mj), metrics };
    });
}

function summarise(series: GpuSeries): GpuAggregate["metrics"] {
  const metrics = {} as GpuAggregate["metrics"];
  for (const metric of AGGREGATED_METRICS) metrics[metric] = summariseColumn(series.metrics[metric]);
  return metrics;
}

function summariseColumn(values: readonly (number | null)[]): MetricSummary | null {
  let sum = 0;
  let count = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!;
    if (value === null) continue;
    sum += value;
    count++;
    if (value < min) min = value;
    if (value > max) max = value;
  }
  return count === 0 ? null : { avg: sum / count, min, max };
}

/**
 * Sums the counter's increases between consecutive samples. A decrease is a
 * counter reset (driver reload): that pair is skipped and counting goes on from
 * the new value. The step from the previous window's last sample counts here when
 * it is no more than two intervals before the window, so no energy falls between
 * windows and none is counted twice.
 */
export function energyUsed(
  ts: readonly number[],
  energy: readonly (number | null)[],
  previous: { ts: number; energy_mj: number | null } | undefined,
  windowStartTs: number,
  intervalSeconds: number,
): number | null {
  let last = previous && windowStartTs - previous.ts <= 2 * intervalSeconds ? previous.energy_mj : null;
  let total: number | null = null;
  for (let i = 0; i < ts.length; i++) {
    const value = energy[i]!;
    if (value === null) continue;
    if (last !== null && value >= last) total = (total ?? 0) + (value - last);
    last = value;
  }
  return total;
}
