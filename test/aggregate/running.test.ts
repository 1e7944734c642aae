import { describe, expect, test } from "bun:test";
import { RunningWindow } from "../../src/aggregate/running.ts";
import { aggregateWindow, seriesFromSamples, type GpuAggregate, type RawSample } from "../../src/aggregate/windows.ts";
import { AGGREGATED_METRICS } from "../../src/store/schema.ts";

describe("a window aggregated as its ticks arrive", () => {
  test("gives aggregateWindow's numbers to the last bit: nulls, missing GPUs, counter resets, fractions", () => {
    let seed = 11;
    const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let run = 0; run < 50; run++) {
      const start = 3600 * (1000 + run);
      const interval = 1 + Math.floor(next() * 5);
      const previous = new Map([
        [1, { ts: start - interval, energy_mj: 5_000 }],
        [2, { ts: start - 3 * interval, energy_mj: 7_000 }], // too long before: not counted
      ]);
      const running = new RunningWindow(start, 3600, interval, previous);
      const samples: RawSample[] = [];
      const energy = new Map<number, number>();
      for (let ts = start; ts < start + 3600; ts += interval) {
        const tick: RawSample[] = [];
        for (const gpu of [1, 2, 3]) {
          if (next() < 0.1) continue; // this GPU missed the tick
          const e = next() < 0.01 ? 100 : (energy.get(gpu) ?? 5_000) + Math.floor(next() * 700_000); // sometimes a reset
          energy.set(gpu, e);
          const sample = { ts, gpu_id: gpu, energy_mj: next() < 0.05 ? null : e } as RawSample;
          for (const metric of AGGREGATED_METRICS) sample[metric] = next() < 0.1 ? null : Math.floor(next() * 1e6) / (next() < 0.5 ? 1 : 7);
          tick.push(sample);
        }
        samples.push(...tick);
        expect(running.add(ts, tick)).toBe(true);
      }
      const batch = aggregateWindow({ start, periodSeconds: 3600, intervalSeconds: interval, series: seriesFromSamples(samples), previous, expectedGpus: [1, 2, 3, 4] });
      expect(running.result([1, 2, 3, 4])).toEqual(batch);
    }
  });

  test("refuses ticks outside the window or out of order", () => {
    const running = new RunningWindow(100, 10, 1, new Map());
    expect(running.add(99, [])).toBe(false);
    expect(running.add(110, [])).toBe(false);
    expect(running.add(105, [])).toBe(true);
    expect(running.add(105, [])).toBe(false);
    expect(running.add(104, [])).toBe(false);
    expect(running.whole).toBe(false); // out of order: the window falls back to the stored samples
    expect(running.add(107, [])).toBe(false);
    expect(running.result([7])).toEqual([
      { gpuId: 7, sampleCount: 0, coverage: 0, energyMillijoules: null, metrics: Object.fromEntries(AGGREGATED_METRICS.map((m) => [m, null])) as GpuAggregate["metrics"] },
    ]);
  });
});
