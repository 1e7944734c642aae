// A window aggregated as its ticks arrive: running sums, counts, extremes and
// energy per GPU, so closing the window costs nothing, whatever its length or the
// JIT tier the agent runs in. Pure. Values are added in time order, the same
// order aggregateWindow adds them, so both give the same numbers to the last bit
// (a test holds them to it).

import { AGGREGATED_METRICS } from "../store/schema.ts";
import type { GpuAggregate, RawSample } from "./windows.ts";

const METRIC_COUNT = AGGREGATED_METRICS.length;

class RunningGpu {
  count = 0;
  readonly sums = new Float64Array(METRIC_COUNT);
  readonly counts = new Float64Array(METRIC_COUNT);
  readonly mins = new Float64Array(METRIC_COUNT).fill(Infinity);
  readonly maxs = new Float64Array(METRIC_COUNT).fill(-Infinity);
  energy: number | null = null;

  constructor(public lastEnergy: number | null) {}
}

export class RunningWindow {
  private readonly gpus = new Map<number, RunningGpu>();
  private lastTs = -Infinity;
  /**
   * Whether every stored tick of the window went through add(): false from the
   * start when the window held samples before it was followed, or from a tick
   * out of order on. Only a whole window's result may stand for the window.
   */
  whole = true;

  /**
   * `previous`: each GPU's last sample before the window, counted as aggregateWindow
   * counts it (its energy step counts here when it is at most two intervals before the start).
   */
  constructor(
    readonly start: number,
    readonly periodSeconds: number,
    readonly intervalSeconds: number,
    private readonly previous: ReadonlyMap<number, { ts: number; energy_mj: number | null }>,
  ) {}

  get end(): number {
    return this.start + this.periodSeconds;
  }

  /**
   * One tick's samples, ticks in time order. False, nothing added, for a tick
   * outside the window; for one out of order (the window is no longer whole); and
   * once the window is not whole.
   */
  add(ts: number, samples: readonly RawSample[]): boolean {
    if (ts < this.start || ts >= this.end) return false;
    if (ts <= this.lastTs) this.whole = false;
    if (!this.whole) return false;
    this.lastTs = ts;
    for (const sample of samples) {
      let gpu = this.gpus.get(sample.gpu_id);
      if (!gpu) {
        const before = this.previous.get(sample.gpu_id);
        const baseline = before && this.start - before.ts <= 2 * this.intervalSeconds ? before.energy_mj : null;
        this.gpus.set(sample.gpu_id, (gpu = new RunningGpu(baseline)));
      }
      gpu.count++;
      for (let m = 0; m < METRIC_COUNT; m++) {
        const value = sample[AGGREGATED_METRICS[m]!];
        if (value === null) continue;
        gpu.sums[m]! += value;
        gpu.counts[m]!++;
        if (value < gpu.mins[m]!) gpu.mins[m] = value;
        if (value > gpu.maxs[m]!) gpu.maxs[m] = value;
      }
      const energy = sample.energy_mj;
      if (energy !== null) {
        if (gpu.lastEnergy !== null && energy >= gpu.lastEnergy) gpu.energy = (gpu.energy ?? 0) + (energy - gpu.lastEnergy);
        gpu.lastEnergy = energy;
      }
    }
    return true;
  }

  /** The window's aggregates, as aggregateWindow gives them for the same samples. */
  result(expectedGpus: Iterable<number>): GpuAggregate[] {
    const expected = this.periodSeconds / this.intervalSeconds;
    const ids = new Set([...expectedGpus, ...this.gpus.keys()]);
    return [...ids]
      .sort((a, b) => a - b)
      .map((gpuId) => {
        const gpu = this.gpus.get(gpuId);
        const count = gpu?.count ?? 0;
        const metrics = {} as GpuAggregate["metrics"];
        AGGREGATED_METRICS.forEach((metric, m) => {
          metrics[metric] = gpu && gpu.counts[m]! > 0 ? { avg: gpu.sums[m]! / gpu.counts[m]!, min: gpu.mins[m]!, max: gpu.maxs[m]! } : null;
        });
        return {
          gpuId,
          sampleCount: count,
          coverage: expected > 0 ? Math.min(1, count / expected) : 0,
          energyMillijoules: gpu?.energy ?? null,
          metrics,
        };
      });
  }
}
