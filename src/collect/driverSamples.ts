// Usage over the whole interval from the driver's own sample buffers
// (nvmlDeviceGetSamples): each sample says what the GPU did since the one before,
// so a tick's value is the time-weighted average of the samples since the last
// tick, not the instant the tick happened to land on. Where a GPU keeps no buffer
// (or none came in the interval), the instant's reading stays, marked as such.

import type { DriverSamples, GpuReading, Nvml, SampleKind } from "../nvml/index.ts";

/** The kinds averaged, and the reading field each replaces. */
const AVERAGED: ReadonlyArray<readonly [SampleKind, "gpuUtilizationPercent" | "memoryUtilizationPercent" | "powerUsageMilliwatts"]> = [
  ["gpu_utilization", "gpuUtilizationPercent"],
  ["memory_utilization", "memoryUtilizationPercent"],
  ["power", "powerUsageMilliwatts"],
];

/** Used until a buffer has shown two samples: NVIDIA's utilization period on most GPUs is 1/6 s. */
const DEFAULT_PERIOD_US = 166_667;
/** Reading a buffer at most this often, and at least this often even at a long interval. */
const MIN_POLL_MS = 250;
const MAX_POLL_MS = 10_000;

export interface IntervalSummary {
  /** Time-weighted average of the samples. */
  average: number;
  /** How many driver samples it averages. */
  count: number;
  /** Time covered with a value above zero. */
  busyMs: number;
  /** Time the samples cover. */
  coveredMs: number;
}

/**
 * One buffer of one GPU: the samples seen since the last `take`, each weighted by
 * the time since the sample before it. A gap longer than two periods (the ring
 * wrapped before it was read) counts one period for the sample after it, so a lost
 * stretch is never filled in with a guess; `lostMs` says how much went unseen.
 */
export class IntervalAverager {
  private newestUs: number;
  private sum = 0;
  private weightUs = 0;
  private count = 0;
  private busyUs = 0;
  lostMs = 0;

  constructor(
    readonly periodUs: number,
    /** The newest sample already in the buffer at start: only later ones count. */
    startAfterUs: number,
  ) {
    this.newestUs = startAfterUs;
  }

  /** Where the next read starts: samples after this timestamp. */
  get afterUs(): number {
    return this.newestUs;
  }

  add(samples: DriverSamples): void {
    const { timestampsUs, values } = samples;
    const maxGap = 2 * this.periodUs;
    for (let i = 0; i < samples.count; i++) {
      const at = timestampsUs[i]!;
      const value = values[i]!;
      if (at <= this.newestUs || Number.isNaN(value)) continue;
      const gap = this.newestUs > 0 ? at - this.newestUs : this.periodUs;
      const weight = gap > maxGap ? this.periodUs : gap;
      if (gap > maxGap) this.lostMs += (gap - weight) / 1000;
      this.sum += value * weight;
      this.weightUs += weight;
      this.count++;
      if (value > 0) this.busyUs += weight;
      this.newestUs = at;
    }
  }

  /** The interval's summary (null when no sample came), and a fresh start. */
  take(): IntervalSummary | null {
    const summary =
      this.count === 0 || this.weightUs === 0
        ? null
        : { average: this.sum / this.weightUs, count: this.count, busyMs: this.busyUs / 1000, coveredMs: this.weightUs / 1000 };
    this.sum = 0;
    this.weightUs = 0;
    this.count = 0;
    this.busyUs = 0;
    return summary;
  }
}

/** The driver's sampling period from the timestamps it returned: their median step. */
export function estimatePeriodUs(samples: DriverSamples | null): number {
  if (!samples || samples.count < 2) return DEFAULT_PERIOD_US;
  const steps: number[] = [];
  for (let i = 1; i < samples.count; i++) {
    const step = samples.timestampsUs[i]! - samples.timestampsUs[i - 1]!;
    if (step > 0) steps.push(step);
  }
  if (steps.length === 0) return DEFAULT_PERIOD_US;
  steps.sort((a, b) => a - b);
  return steps[Math.floor(steps.length / 2)]!;
}

/** A read comes this long before the shortest buffer would wrap: room for a late timer or a busy thread. */
const POLL_MARGIN_MS = 2000;

/**
 * How often to read buffers that hold `spanMs` of history each: before the
 * shortest wraps, with a margin (at least twice per span), and at least every
 * 10 s. Each read wakes the sampling thread, so not more often than needed.
 */
export function pollPeriodMs(spansMs: Iterable<number>): number {
  let shortest = Infinity;
  for (const span of spansMs) shortest = Math.min(shortest, span);
  if (!Number.isFinite(shortest)) return MAX_POLL_MS;
  const beforeWrap = Math.max(shortest / 2, shortest - POLL_MARGIN_MS);
  return Math.min(MAX_POLL_MS, Math.max(MIN_POLL_MS, Math.floor(beforeWrap)));
}

interface GpuBuffers {
  uuid: string;
  /** One per kind this GPU keeps a buffer of. */
  averagers: Map<SampleKind, IntervalAverager>;
  /** History each buffer holds, ms. */
  spansMs: number[];
}

/** Every GPU's buffers in one NVML session. */
export class DriverSampling {
  private readonly gpus = new Map<number, GpuBuffers>();
  /** Worked out when the GPUs change, not at every tick that asks. */
  private pollMs: number | null = null;

  /** Learns a GPU's buffers (length and period) the first time it is seen, or when its index now holds another GPU. */
  attach(nvml: Nvml, index: number, uuid: string): void {
    if (this.gpus.get(index)?.uuid === uuid) return;
    const buffers: GpuBuffers = { uuid, averagers: new Map(), spansMs: [] };
    this.gpus.set(index, buffers);
    if (!nvml.sampleBufferLength || !nvml.readSamples) return;
    for (const [kind] of AVERAGED) {
      const length = nvml.sampleBufferLength(index, kind);
      if (length === null || length === 0) continue;
      const history = nvml.readSamples(index, kind, 0);
      if (history === null) continue;
      const periodUs = estimatePeriodUs(history);
      const newest = history.count > 0 ? history.timestampsUs[history.count - 1]! : 0;
      buffers.averagers.set(kind, new IntervalAverager(periodUs, newest));
      buffers.spansMs.push((length * periodUs) / 1000);
    }
    this.updatePollPeriod();
  }

  /** Forgets GPUs no longer present. */
  retainOnly(indexes: ReadonlySet<number>): void {
    let changed = false;
    for (const index of this.gpus.keys()) {
      if (indexes.has(index)) continue;
      this.gpus.delete(index);
      changed = true;
    }
    if (changed) this.updatePollPeriod();
  }

  /** Reads every buffer from where the last read stopped. A GPU that fails is left to the next reading to report. */
  poll(nvml: Nvml): void {
    if (!nvml.readSamples) return;
    for (const [index, buffers] of this.gpus) {
      for (const [kind, averager] of buffers.averagers) {
        let samples: DriverSamples | null;
        try {
          samples = nvml.readSamples(index, kind, averager.afterUs);
        } catch {
          break;
        }
        if (samples) averager.add(samples);
      }
    }
  }

  /** How often buffers need reading so that none wraps unread; null when no GPU keeps one. */
  pollPeriodMs(): number | null {
    return this.pollMs;
  }

  private updatePollPeriod(): void {
    const spans = [...this.gpus.values()].flatMap((gpu) => gpu.spansMs);
    this.pollMs = spans.length === 0 ? null : pollPeriodMs(spans);
  }

  /**
   * The reading with its utilization and power over the interval where the driver's
   * samples cover it: averages replace the instant's values, and the reading says
   * how many samples the GPU utilization averages and how long the GPU was busy.
   */
  apply<T extends GpuReading>(reading: T): T {
    const buffers = this.gpus.get(reading.index);
    if (!buffers || buffers.uuid !== reading.uuid) return reading;
    const result = { ...reading };
    for (const [kind, field] of AVERAGED) {
      const summary = buffers.averagers.get(kind)?.take();
      if (!summary) continue;
      result[field] = Math.round(summary.average);
      if (kind === "gpu_utilization") {
        result.utilizationSamples = summary.count;
        result.busyMilliseconds = Math.round(summary.busyMs);
      }
    }
    return result;
  }
}
