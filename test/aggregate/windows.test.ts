import { describe, expect, test } from "bun:test";
import { aggregateWindow, closedWindowStarts, energyUsed as energyOfColumns, seriesFromSamples, windowStart, type RawSample } from "../../src/aggregate/windows.ts";

function sample(ts: number, gpu_id: number, values: Partial<RawSample> = {}): RawSample {
  return {
    ts,
    gpu_id,
    energy_mj: null,
    temperature: null,
    memory_used: null,
    memory_free: null,
    gpu_utilization: null,
    memory_utilization: null,
    power_mw: null,
    power_limit_mw: null,
    fan_speed: null,
    graphics_clock: null,
    sm_clock: null,
    memory_clock: null,
    encoder_utilization: null,
    decoder_utilization: null,
    ...values,
  };
}

/** energyUsed over rows, as the tests write them. */
function energyUsed(rows: Array<{ ts: number; energy_mj: number | null }>, ...rest: [{ ts: number; energy_mj: number | null } | undefined, number, number]) {
  return energyOfColumns(rows.map((row) => row.ts), rows.map((row) => row.energy_mj), ...rest);
}

describe("windows", () => {
  test("align to multiples of their length since the epoch (UTC)", () => {
    const t = Date.UTC(2024, 2, 20, 14, 37, 12) / 1000;
    expect(windowStart(t, 3600)).toBe(Date.UTC(2024, 2, 20, 14, 0, 0) / 1000);
    expect(windowStart(t, 10)).toBe(t - 2);
    // The night of a DST change in Europe changes nothing: windows are UTC.
    const dst = Date.UTC(2024, 2, 31, 1, 30) / 1000;
    expect(windowStart(dst, 3600) % 3600).toBe(0);
  });

  test("only closed windows are listed, from the window of the first sample", () => {
    expect(closedWindowStarts(105, 130, 10)).toEqual([100, 110, 120]);
    expect(closedWindowStarts(105, 129, 10)).toEqual([100, 110]);
    expect(closedWindowStarts(105, 109, 10)).toEqual([]);
  });
});

describe("a window's aggregate", () => {
  test("average, min and max of each metric; coverage is samples seen over expected", () => {
    const [gpu] = aggregateWindow({
      start: 100,
      periodSeconds: 10,
      intervalSeconds: 1,
      series: seriesFromSamples([
        sample(102, 1, { temperature: 45, power_mw: 150_000, fan_speed: 34 }),
        sample(100, 1, { temperature: 40, power_mw: 100_000, fan_speed: 30 }),
        sample(101, 1, { temperature: 50, power_mw: 200_000, fan_speed: null }),
      ]),
      previous: new Map(),
      expectedGpus: [],
    });
    expect(gpu!.sampleCount).toBe(3);
    expect(gpu!.coverage).toBeCloseTo(0.3, 10);
    expect(gpu!.metrics.temperature).toEqual({ avg: 45, min: 40, max: 50 });
    expect(gpu!.metrics.power_mw).toEqual({ avg: 150_000, min: 100_000, max: 200_000 });
    expect(gpu!.metrics.fan_speed).toEqual({ avg: 32, min: 30, max: 34 }); // a missing reading is not a zero
    expect(gpu!.metrics.memory_used).toBeNull();
  });

  test("a GPU present before the window but without samples in it gets coverage 0", () => {
    const aggregates = aggregateWindow({
      start: 100,
      periodSeconds: 10,
      intervalSeconds: 1,
      series: seriesFromSamples([sample(100, 1, { temperature: 40 })]),
      previous: new Map([
        [1, { ts: 99, energy_mj: null }],
        [2, { ts: 99, energy_mj: null }],
      ]),
      expectedGpus: [1, 2],
    });
    expect(aggregates.map((a) => [a.gpuId, a.sampleCount, a.coverage])).toEqual([
      [1, 1, 0.1],
      [2, 0, 0],
    ]);
    expect(aggregates[1]!.metrics.temperature).toBeNull();
  });

  test("coverage never exceeds 1", () => {
    const samples = Array.from({ length: 12 }, (_, i) => sample(100 + i * 0.5, 1));
    expect(aggregateWindow({ start: 100, periodSeconds: 5, intervalSeconds: 1, series: seriesFromSamples(samples), previous: new Map(), expectedGpus: [] })[0]!.coverage).toBe(1);
  });
});

describe("energy from the counter", () => {
  test("sums the increases, starting from the previous window's last sample", () => {
    const samples = [
      { ts: 100, energy_mj: 1_000 },
      { ts: 101, energy_mj: 1_500 },
      { ts: 102, energy_mj: 2_500 },
    ];
    expect(energyUsed(samples, { ts: 99, energy_mj: 800 }, 100, 1)).toBe(1_700);
    expect(energyUsed(samples, undefined, 100, 1)).toBe(1_500);
  });
  test("a previous sample long before the window does not count (the agent was down)", () => {
    expect(energyUsed([{ ts: 100, energy_mj: 9_000 }, { ts: 101, energy_mj: 9_100 }], { ts: 50, energy_mj: 1 }, 100, 1)).toBe(100);
  });
  test("a counter reset starts a new delta", () => {
    const samples = [
      { ts: 100, energy_mj: 5_000 },
      { ts: 101, energy_mj: 6_000 },
      { ts: 102, energy_mj: 200 }, // driver reloaded
      { ts: 103, energy_mj: 700 },
    ];
    expect(energyUsed(samples, undefined, 100, 1)).toBe(1_500);
  });
  test("no counter, no figure", () => {
    expect(energyUsed([{ ts: 100, energy_mj: null }], undefined, 100, 1)).toBeNull();
  });
});
