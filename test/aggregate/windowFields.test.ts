// A window's usage over the interval, energy source and health, from samples and XIDs.

import { describe, expect, test } from "bun:test";
import { aggregateWindow } from "../../src/aggregate/windows.ts";
import type { WindowXid } from "../../src/aggregate/windowFields.ts";
import { SAMPLE_METRICS } from "../../src/metrics/catalog.ts";
import type { SampleColumns } from "../../src/store/columns.ts";
import { AGGREGATE_COLUMNS } from "../../src/store/schema.ts";

type Row = { ts: number } & Record<string, number | null>;

function series(gpuId: number, rows: Row[]): SampleColumns {
  return { gpuId, ts: rows.map((row) => row.ts), values: SAMPLE_METRICS.map((metric) => rows.map((row) => row[metric.column!] ?? null)) };
}

/** One GPU's window of 10 s at 1 s from `rows`, its stored values by column. */
function window(rows: Row[], xids: WindowXid[] = [], start = 100): Record<string, number | string | null> {
  const [gpu] = aggregateWindow({
    start,
    periodSeconds: 10,
    intervalSeconds: 1,
    series: [series(1, rows)],
    expectedGpus: [1],
    xids: new Map([[1, xids]]),
  });
  return Object.fromEntries(AGGREGATE_COLUMNS.map((column, i) => [column, gpu!.values[i]!]));
}

const tenSamples = (make: (i: number) => Record<string, number | null | undefined>): Row[] => Array.from({ length: 10 }, (_, i) => ({ ts: 101 + i, ...make(i) }) as Row);

describe("usage over the interval", () => {
  test("busy seconds come from the driver's measure where a sample has one, else whole intervals above zero", () => {
    const values = window(tenSamples((i) => (i < 4 ? { gpu_utilization: 50, busy_ms: 500, utilization_samples: 6 } : { gpu_utilization: i % 2, utilization_samples: 0 })));
    expect(values.busy_seconds).toBe(4 * 0.5 + 3); // i = 5, 7, 9 above zero
    expect(values.averaged_share).toBe(0.4);
  });

  test("on a MIG device (no utilization), whole intervals of GPM graphics activity above zero; GPM averages like any gauge", () => {
    // graphics_activity is stored in hundredths of a percent
    const values = window(tenSamples((i) => ({ graphics_activity: i < 6 ? 2500 : i === 6 ? null : 0, sm_activity: 1000 * (i % 3) })));
    expect(values.busy_seconds).toBe(6);
    expect(values.graphics_activity).toBeCloseTo((6 * 2500) / 9, 6);
    expect([values.graphics_activity_min, values.graphics_activity_max]).toEqual([0, 2500]);
    expect([values.sm_activity_min, values.sm_activity_max]).toEqual([0, 2000]);
  });

  test("utilization, where measured, wins over GPM activity for busy seconds", () => {
    const values = window(tenSamples(() => ({ gpu_utilization: 0, graphics_activity: 5000 })));
    expect(values.busy_seconds).toBe(0);
  });

  test("without utilization at all, neither is known", () => {
    const values = window(tenSamples(() => ({ temperature: 40 })));
    expect([values.busy_seconds, values.averaged_share]).toEqual([null, null]);
  });
});

describe("energy", () => {
  test("from the counter where there is one", () => {
    const values = window(tenSamples((i) => ({ energy_mj: 1000 + i * 300, power_mw: 999_999 })));
    expect([values.energy_mj, values.energy_source]).toEqual([2700, "counter"]);
  });

  test("without a counter, power held over each sample's interval", () => {
    const values = window(tenSamples((i) => ({ power_mw: i < 5 ? 100_000 : 300_000 })));
    expect([values.energy_mj, values.energy_source]).toEqual([5 * 100_000 + 5 * 300_000, "power_integral"]);
  });

  test("neither: no energy and no source", () => {
    const values = window(tenSamples(() => ({ temperature: 40 })));
    expect([values.energy_mj, values.energy_source]).toEqual([null, null]);
  });
});

describe("health", () => {
  test("XIDs are counted and listed; the intervals they fall in are not healthy", () => {
    const values = window(tenSamples(() => ({ gpu_utilization: 1 })), [
      { ts: 103.5, code: 13, description: "Graphics engine exception" },
      { ts: 103.9, code: 31, description: null },
    ]);
    expect(values.xid_count).toBe(2);
    expect(JSON.parse(values.xid_errors as string)).toEqual([
      { time: "1970-01-01T00:01:43Z", code: 13, description: "Graphics engine exception" },
      { time: "1970-01-01T00:01:43Z", code: 31, description: null },
    ]);
    expect(values.healthy_seconds).toBe(9); // both fall in (103, 104]
    expect(values.unavailable_seconds).toBe(0);
  });

  test("no XID: a count of 0 and an empty list", () => {
    const values = window(tenSamples(() => ({ gpu_utilization: 1 })));
    expect([values.xid_count, values.xid_errors]).toEqual([0, "[]"]);
  });

  test("missing samples are unavailable seconds; a GPU lost after an XID 79 still shows the XID", () => {
    const values = window(tenSamples(() => ({ gpu_utilization: 1 })).slice(0, 3), [{ ts: 104, code: 79, description: "GPU has fallen off the bus" }]);
    expect([values.healthy_seconds, values.unavailable_seconds, values.xid_count]).toEqual([3, 7, 1]);
  });

  test("ECC deltas count from the sample before the window; a reset is skipped", () => {
    const rows: Row[] = [{ ts: 99, ecc_errors_corrected: 5, ecc_errors_uncorrected: 1 }, ...tenSamples((i) => ({ ecc_errors_corrected: i < 6 ? 5 + i : i - 6, ecc_errors_uncorrected: 1 }))];
    const values = window(rows);
    expect(values.ecc_errors_corrected_delta).toBe(5 + 3); // 5 -> 10, reset to 0, 0 -> 3
    expect(values.ecc_errors_uncorrected_delta).toBe(0);
  });

  test("remapped rows are the latest in the window; ECC off leaves deltas unknown", () => {
    const values = window(tenSamples((i) => ({ remapped_rows_correctable: i < 7 ? 1 : 2, remapped_rows_uncorrectable: 0, remapped_rows_pending: i === 9 ? 1 : 0, remapped_rows_failure: 0 })));
    expect([values.remapped_rows_correctable, values.remapped_rows_uncorrectable, values.remapped_rows_pending, values.remapped_rows_failure]).toEqual([2, 0, 1, 0]);
    expect(values.ecc_errors_corrected_delta).toBeNull();
  });

  test("clock-event seconds: each reason's active intervals, every reason named", () => {
    const values = window(tenSamples((i) => ({ clock_event_reasons: i < 6 ? 0x1 : 0x4 | 0x20 })));
    const seconds = JSON.parse(values.clock_event_seconds as string);
    expect(seconds).toMatchObject({ gpu_idle: 6, sw_power_cap: 4, sw_thermal_slowdown: 4, hw_slowdown: 0 });
    expect(Object.keys(seconds)).toHaveLength(9);
  });
});
