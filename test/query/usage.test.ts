import { describe, expect, test } from "bun:test";
import { presentSeconds, usageByGpu } from "../../src/query/usage.ts";
import type { StoredGpu } from "../../src/store/gpus.ts";
import type { StoredWindowGpu } from "../../src/store/windows.ts";
import { usageCsv, usageJson, usageTable } from "../../src/cli/format/usage.ts";

function gpu(id: number, uid: string, name: string): [number, StoredGpu] {
  return [id, { id, identity: { uid, name }, firstSeen: 0, lastSeen: 0 }];
}

const GPUS = new Map([gpu(1, "GPU-aaaaaaaa-0000-0000-0000-000000000001", "NVIDIA H100 80GB HBM3"), gpu(2, "GPU-bbbbbbbb-0000-0000-0000-000000000002", "NVIDIA A100-SXM4-40GB")]);

function window(gpuId: number, start: number, values: Record<string, number | string | null>, sampleCount = 60, coverage = 1): StoredWindowGpu {
  return { windowStart: start, periodSeconds: 3600, gpuId, sampleCount, coverage, values };
}

describe("usage by GPU from window summaries", () => {
  test("sums present, busy and energy; averages utilization by samples; keeps the highest memory", () => {
    const windows = [
      window(1, 0, { unavailable_seconds: 0, busy_seconds: 1800.5, energy_mj: 1_800_000_000, gpu_utilization: 50, memory_used_max: 10 }),
      window(1, 3600, { unavailable_seconds: 600, busy_seconds: 3000, energy_mj: 1_800_000_000, gpu_utilization: 80, memory_used_max: 30 }, 50, 50 / 60),
      window(2, 0, { unavailable_seconds: 3600, busy_seconds: null, energy_mj: null, gpu_utilization: null, memory_used_max: null }, 0, 0),
    ];
    const summary = usageByGpu(windows, GPUS, 0, 7200);
    expect(summary.rows.map((row) => row.key)).toEqual(["GPU-aaaaaaaa-0000-0000-0000-000000000001", "GPU-bbbbbbbb-0000-0000-0000-000000000002"]);
    const [first, second] = summary.rows;
    expect(first).toMatchObject({ gpuSeconds: 6600, busySeconds: 4800.5, energyMj: 3_600_000_000, memoryPeakBytes: 30, windows: 2, label: "NVIDIA H100 80GB HBM3" });
    // (50 × 60 + 80 × 50) / 110 samples
    expect(first!.utilizationAverage).toBe(Math.round(((50 * 60 + 80 * 50) / 110) * 100) / 100);
    expect(second).toMatchObject({ gpuSeconds: 0, busySeconds: null, energyMj: null, utilizationAverage: null, memoryPeakBytes: null, windows: 1 });
    expect(summary.total).toMatchObject({ key: "total", gpuSeconds: 6600, busySeconds: 4800.5, energyMj: 3_600_000_000, memoryPeakBytes: 30, windows: 3 });
  });

  test("a window stored before unavailable_seconds existed counts its coverage of the period", () => {
    expect(presentSeconds(window(1, 0, { unavailable_seconds: null }, 45, 0.75))).toBe(2700);
    expect(presentSeconds(window(1, 0, { unavailable_seconds: 900 }, 45, 0.75))).toBe(2700);
  });

  test("sorted by GPU-hours, most first", () => {
    const summary = usageByGpu([window(1, 0, { unavailable_seconds: 3000 }), window(2, 0, { unavailable_seconds: 0 })], GPUS, 0, 3600);
    expect(summary.rows.map((row) => row.gpuSeconds)).toEqual([3600, 600]);
  });
});

describe("MIG devices", () => {
  const H100 = "GPU-aaaaaaaa-0000-0000-0000-000000000001";
  const mig = (id: number, uid: string, profile: string): [number, StoredGpu] => [
    id,
    { id, identity: { uid, name: `NVIDIA H100 80GB HBM3 MIG ${profile}`, parent_uid: H100, mig_profile: profile }, firstSeen: 0, lastSeen: 0 },
  ];
  const gpus = new Map([...GPUS, mig(3, "MIG-11111111-0000-5000-8000-000000000001", "3g.40gb"), mig(4, "MIG-22222222-0000-5000-8000-000000000002", "1g.10gb")]);
  const summary = usageByGpu(
    [
      window(2, 0, { unavailable_seconds: 0, gpu_utilization: 10 }),
      window(1, 0, { unavailable_seconds: 1800, busy_seconds: 1800, energy_mj: 3_600_000_000, gpu_utilization: null, graphics_activity: 6000 }),
      window(3, 0, { unavailable_seconds: 1800, busy_seconds: 1800, gpu_utilization: null, graphics_activity: 9000, memory_used_max: 2 ** 34 }),
      window(4, 0, { unavailable_seconds: 1800, busy_seconds: 0, gpu_utilization: null, graphics_activity: 0 }),
    ],
    gpus,
    0,
    3600,
  );

  test("each MIG device is a row of its own under its GPU, named by profile; the total counts the GPU once", () => {
    expect(summary.rows.map((row) => [row.key, row.parent, row.label])).toEqual([
      ["GPU-bbbbbbbb-0000-0000-0000-000000000002", null, "NVIDIA A100-SXM4-40GB"],
      [H100, null, "NVIDIA H100 80GB HBM3"],
      ["MIG-11111111-0000-5000-8000-000000000001", H100, "MIG 3g.40gb"],
      ["MIG-22222222-0000-5000-8000-000000000002", H100, "MIG 1g.10gb"],
    ]);
    expect(summary.total).toMatchObject({ gpuSeconds: 3600 + 1800, busySeconds: 1800, windows: 2 });
  });

  test("without utilization (MIG), the average is GPM's graphics activity", () => {
    expect(summary.rows.map((row) => row.utilizationAverage)).toEqual([10, 60, 90, 0]);
  });

  test("the table indents them; JSON names their GPU", () => {
    const table = usageTable(summary);
    expect(table).toMatch(/^└ MIG-11111111…\s+MIG 3g\.40gb\s+0\.50\s/m);
    expect(JSON.parse(usageJson(summary)).rows[2].parent_gpu).toBe(H100);
  });
});

describe("usage output", () => {
  const summary = usageByGpu(
    [window(1, 0, { unavailable_seconds: 0, busy_seconds: 900, energy_mj: 3_600_000_000, gpu_utilization: 25, memory_used_max: 2 ** 34 })],
    GPUS,
    0,
    3600,
  );

  test("JSON has exact seconds, hours and kWh, and the total", () => {
    const document = JSON.parse(usageJson(summary));
    expect(document.by).toBe("gpu");
    expect(document.rows[0]).toEqual({
      gpu: "GPU-aaaaaaaa-0000-0000-0000-000000000001",
      name: "NVIDIA H100 80GB HBM3",
      gpu_seconds: 3600,
      gpu_hours: 1,
      busy_seconds: 900,
      busy_gpu_hours: 0.25,
      energy_kwh: 1,
      energy_basis: "measured",
      utilization_avg: 25,
      memory_peak_bytes: 2 ** 34,
      windows: 1,
      parent_gpu: null,
    });
    expect(document.total.gpu_seconds).toBe(3600);
  });

  test("CSV is a header and a line per group", () => {
    const lines = usageCsv(summary).trimEnd().split("\n");
    expect(lines[0]).toBe("gpu,name,gpu_seconds,gpu_hours,busy_seconds,busy_gpu_hours,energy_kwh,energy_basis,utilization_avg,memory_peak_bytes,windows,parent_gpu");
    expect(lines[1]).toBe("GPU-aaaaaaaa-0000-0000-0000-000000000001,NVIDIA H100 80GB HBM3,3600,1,900,0.25,1,measured,25,17179869184,1,");
    expect(lines).toHaveLength(2);
  });

  test("the table fits 80 columns and ends with the total", () => {
    const lines = usageTable(summary).trimEnd().split("\n");
    for (const line of lines) expect(Bun.stringWidth(line)).toBeLessThanOrEqual(80);
    expect(lines.at(-1)).toMatch(/^total\s+1\.00\s+0\.25\s+1\.000\s+25\.0\s+16\.0 GiB$/);
    expect(lines[3]).toMatch(/^GPU-aaaaaaaa…  NVIDIA H100 80G…\s+1\.00\s/);
  });

  test("an empty range says so", () => {
    expect(usageTable(usageByGpu([], GPUS, 0, 3600))).toContain("No windows in this range.");
  });
});
