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

export interface WindowInput {
  start: number;
  periodSeconds: number;
  intervalSeconds: number;
  /** The window's raw samples, any order. */
  samples: readonly RawSample[];
  /** Each GPU's last sample before the window, to count the energy spent across the boundary. */
  previous: ReadonlyMap<number, { ts: number; energy_mj: number | null }>;
  /** GPUs that get a record even without samples here (they were present before the window). */
  expectedGpus: Iterable<number>;
}

export function aggregateWindow(input: WindowInput): GpuAggregate[] {
  const expected = input.periodSeconds / input.intervalSeconds;
  const byGpu = new Map<number, RawSample[]>();
  for (const gpuId of input.expectedGpus) byGpu.set(gpuId, []);
  for (const sample of input.samples) {
    let list = byGpu.get(sample.gpu_id);
    if (!list) byGpu.set(sample.gpu_id, (list = []));
    list.push(sample);
  }
  const aggregates: GpuAggregate[] = [];
  for (const [gpuId, samples] of [...byGpu].sort((a, b) => a[0] - b[0])) {
    samples.sort((a, b) => a.ts - b.ts);
    aggregates.push({
      gpuId,
      sampleCount: samples.length,
      coverage: expected > 0 ? Math.min(1, samples.length / expected) : 0,
      energyMillijoules: energyUsed(samples, input.previous.get(gpuId), input.start, input.intervalSeconds),
      metrics: summarise(samples),
    });
  }
  return aggregates;
}

function summarise(samples: readonly RawSample[]): GpuAggregate["metrics"] {
  const metrics = {} as GpuAggregate["metrics"];
  for (const metric of AGGREGATED_METRICS) {
    let sum = 0;
    let count = 0;
    let min = Infinity;
    let max = -Infinity;
    for (const sample of samples) {
      const value = sample[metric];
      if (value === null) continue;
      sum += value;
      count++;
      if (value < min) min = value;
      if (value > max) max = value;
    }
    metrics[metric] = count === 0 ? null : { avg: sum / count, min, max };
  }
  return metrics;
}

/**
 * Sums the counter's increases between consecutive samples. A decrease is a
 * counter reset (driver reload): that pair is skipped and counting goes on from
 * the new value. The step from the previous window's last sample counts here when
 * it is no more than two intervals before the window, so no energy falls between
 * windows and none is counted twice.
 */
export function energyUsed(
  samples: readonly { ts: number; energy_mj: number | null }[],
  previous: { ts: number; energy_mj: number | null } | undefined,
  windowStartTs: number,
  intervalSeconds: number,
): number | null {
  let last = previous && windowStartTs - previous.ts <= 2 * intervalSeconds ? previous.energy_mj : null;
  let total: number | null = null;
  for (const sample of samples) {
    const value = sample.energy_mj;
    if (value === null) continue;
    if (last !== null && value >= last) total = (total ?? 0) + (value - last);
    last = value;
  }
  return total;
}
