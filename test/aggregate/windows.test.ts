import { describe, expect, test } from "bun:test";
import { aggregateWindow, closedWindowStarts, windowStart } from "../../src/aggregate/windows.ts";
import { SAMPLE_METRICS } from "../../src/metrics/catalog.ts";
import type { SampleColumns } from "../../src/store/columns.ts";
import { AGGREGATE_COLUMNS } from "../../src/store/schema.ts";
import type { GpuWindowSummary } from "../../src/store/windows.ts";

type Row = { ts: number } & Record<string, number | null>;

/** One GPU's samples as the store hands them over, from rows naming stored columns (others null). */
function series(gpuId: number, rows: Row[]): SampleColumns {
  const sorted = [...rows].sort((a, b) => a.ts - b.ts);
  return { gpuId, ts: sorted.map((row) => row.ts), values: SAMPLE_METRICS.map((metric) => sorted.map((row) => row[metric.column!] ?? null)) };
}

/** A stored column of a GPU's window summary (e.g. power_mw, power_mw_min, energy_mj). */
function value(gpu: GpuWindowSummary, column: string): number | null {
  return gpu.values[AGGREGATE_COLUMNS.indexOf(column)] as number | null;
}

function energy(rows: Array<[number, number | null]>, start = 100, intervalSeconds = 1): number | null {
  const [gpu] = aggregateWindow({
    start,
    periodSeconds: 10,
    intervalSeconds,
    series: [series(1, rows.map(([ts, energy_mj]) => ({ ts, energy_mj })))],
    expectedGpus: [1],
  });
  return value(gpu!, "energy_mj");
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

describe("a window's summary", () => {
  test("average, min and max of each gauge; coverage is samples seen over expected", () => {
    const [gpu] = aggregateWindow({
      start: 100,
      periodSeconds: 10,
      intervalSeconds: 1,
      series: [
        series(1, [
          { ts: 102, temperature: 45, power_mw: 150_000, fan_speed: 34 },
          { ts: 100, temperature: 40, power_mw: 100_000, fan_speed: 30 },
          { ts: 101, temperature: 50, power_mw: 200_000, fan_speed: null },
        ]),
      ],
      expectedGpus: [],
    });
    expect(gpu!.sampleCount).toBe(3);
    expect(gpu!.coverage).toBeCloseTo(0.3, 10);
    expect(["temperature", "temperature_min", "temperature_max"].map((c) => value(gpu!, c))).toEqual([45, 40, 50]);
    expect(["power_mw", "power_mw_min", "power_mw_max"].map((c) => value(gpu!, c))).toEqual([150_000, 100_000, 200_000]);
    expect(["fan_speed", "fan_speed_min", "fan_speed_max"].map((c) => value(gpu!, c))).toEqual([32, 30, 34]); // a missing reading is not a zero
    expect(value(gpu!, "memory_used")).toBeNull();
  });

  test("PCIe throughput is summarised like every other gauge, in KB/s as stored", () => {
    const [gpu] = aggregateWindow({
      start: 100,
      periodSeconds: 10,
      intervalSeconds: 1,
      series: [series(1, [{ ts: 100, pcie_tx_throughput: 1000, pcie_rx_throughput: 5 }, { ts: 101, pcie_tx_throughput: 3000, pcie_rx_throughput: null }])],
      expectedGpus: [],
    });
    expect(["pcie_tx_throughput", "pcie_tx_throughput_min", "pcie_tx_throughput_max"].map((c) => value(gpu!, c))).toEqual([2000, 1000, 3000]);
    expect(["pcie_rx_throughput", "pcie_rx_throughput_min", "pcie_rx_throughput_max"].map((c) => value(gpu!, c))).toEqual([5, 5, 5]);
  });

  test("a GPU present before the window but without samples in it gets coverage 0", () => {
    const summaries = aggregateWindow({
      start: 100,
      periodSeconds: 10,
      intervalSeconds: 1,
      series: [series(1, [{ ts: 99, temperature: 10 }, { ts: 100, temperature: 40 }]), series(2, [{ ts: 99, temperature: 20 }])],
      expectedGpus: [1, 2],
    });
    expect(summaries.map((s) => [s.gpuId, s.sampleCount, s.coverage])).toEqual([
      [1, 1, 0.1],
      [2, 0, 0],
    ]);
    expect(value(summaries[0]!, "temperature")).toBe(40); // the sample before the window is a baseline only
    expect(value(summaries[1]!, "temperature")).toBeNull();
  });

  test("a GPU with samples only before the window, and not expected, gets no summary", () => {
    const summaries = aggregateWindow({ start: 100, periodSeconds: 10, intervalSeconds: 1, series: [series(3, [{ ts: 99, temperature: 20 }])], expectedGpus: [] });
    expect(summaries).toEqual([]);
  });

  test("coverage never exceeds 1", () => {
    const rows = Array.from({ length: 12 }, (_, i) => ({ ts: 100 + i * 0.5 }));
    expect(aggregateWindow({ start: 100, periodSeconds: 5, intervalSeconds: 1, series: [series(1, rows)], expectedGpus: [] })[0]!.coverage).toBe(1);
  });
});

describe("energy from the counter", () => {
  test("sums the increases, starting from the previous window's last sample", () => {
    const inside: Array<[number, number]> = [
      [100, 1_000],
      [101, 1_500],
      [102, 2_500],
    ];
    expect(energy([[99, 800], ...inside])).toBe(1_700);
    expect(energy([[98, 800], ...inside])).toBe(1_700); // two intervals before the start still count
    expect(energy(inside)).toBe(1_500);
  });
  test("a previous sample more than two intervals before the window does not count (the agent was down)", () => {
    expect(
      energy([
        [97, 1],
        [100, 9_000],
        [101, 9_100],
      ]),
    ).toBe(100);
  });
  test("the last sample before the window is the baseline, even when it has no reading", () => {
    expect(
      energy([
        [98, 800],
        [99, null],
        [100, 1_000],
        [101, 1_500],
      ]),
    ).toBe(500);
  });
  test("a counter reset starts a new delta", () => {
    expect(
      energy([
        [100, 5_000],
        [101, 6_000],
        [102, 200], // driver reloaded
        [103, 700],
      ]),
    ).toBe(1_500);
  });
  test("no counter, no figure", () => {
    expect(energy([[100, null]])).toBeNull();
  });
});
