// What a report gathers from a period's windows, events and ledger: the usage
// module's totals, each device's days, heat map, gaps and health marks, and the
// uploads. Windows are built by hand so each figure can be worked out on paper.

import { afterAll, describe, expect, test } from "bun:test";
import { usageByGpu } from "../../src/query/usage.ts";
import { buildReport, coverageGaps, localDays, timeZoneName, type ReportInput } from "../../src/report/data.ts";
import type { StoredEvent } from "../../src/store/events.ts";
import type { StoredGpu } from "../../src/store/gpus.ts";
import type { WindowSummary } from "../../src/store/ledger.ts";
import type { StoredWindowGpu } from "../../src/store/windows.ts";

// Local time is Berlin's for every figure worked out here (set before any is).
const savedTz = process.env.TZ;
process.env.TZ = "Europe/Berlin";
afterAll(() => {
  if (savedTz === undefined) delete process.env.TZ;
  else process.env.TZ = savedTz;
});

const local = (y: number, m: number, d: number, h = 0) => new Date(y, m - 1, d, h).getTime() / 1000;
const HOUR = 3600;

function window(start: number, gpuId: number, values: Record<string, number | string | null> = {}, sampleCount = 60): StoredWindowGpu {
  return {
    windowStart: start,
    periodSeconds: HOUR,
    gpuId,
    sampleCount,
    coverage: sampleCount / 60,
    values: {
      gpu_utilization: 50,
      gpu_utilization_min: 10,
      gpu_utilization_max: 90,
      memory_used: 2 * 1024 ** 3,
      memory_used_max: 4 * 1024 ** 3,
      power_mw: 300_000,
      power_mw_max: 400_000,
      energy_mj: 1_080_000_000, // 300 W for an hour
      temperature: 50,
      temperature_max: 60,
      busy_seconds: 1800,
      xid_count: 0,
      xid_errors: "[]",
      unavailable_seconds: HOUR - sampleCount * 60,
      ...values,
    },
  };
}

function gpu(id: number, uid: string, pci: string): StoredGpu {
  return { id, firstSeen: 0, lastSeen: 0, identity: { uid, name: "NVIDIA H100 80GB HBM3", pci_bus_id: pci, memory_total: 80 * 1024 ** 3 } };
}

function input(windows: StoredWindowGpu[], overrides: Partial<ReportInput> = {}): ReportInput {
  const gpus = new Map([
    [1, gpu(1, "GPU-b", "00000000:3B:00.0")],
    [2, gpu(2, "GPU-a", "00000000:18:00.0")],
  ]);
  const period = overrides.period ?? { from: local(2026, 11, 2), to: local(2026, 11, 4) };
  return {
    host: "node-1",
    driverVersion: "570.86.15",
    agentVersion: "1.0.0",
    generatedAt: local(2026, 12, 6),
    period,
    closedUntil: period.to,
    windows,
    openWindows: [],
    attribution: [],
    gpus,
    usage: usageByGpu(windows, gpus, period.from, period.to),
    events: [],
    ledger: [],
    uploadsConfigured: true,
    ...overrides,
  };
}

describe("totals", () => {
  test("are the usage module's figures in hours and kWh, coverage the share of the period with samples", () => {
    const from = local(2026, 11, 2);
    const windows = [window(from, 1), window(from, 2), window(from + HOUR, 1, {}, 30)];
    const data = buildReport(input(windows));
    const usage = usageByGpu(windows, input(windows).gpus, from, from + 2 * 86_400);
    expect(data.totals.gpuHours).toBe(usage.total.gpuSeconds / 3600);
    expect(data.totals.gpuHours).toBe(2.5);
    expect(data.totals.busyGpuHours).toBe(1.5);
    expect(data.totals.energyKwh).toBe(0.9); // three windows of 0.3 kWh
    expect(data.totals.utilizationAverage).toBe(usage.total.utilizationAverage);
    // Host: a whole hour and half of another out of 48.
    expect(data.totals.coverage).toBe(Math.round((1.5 / 48) * 10000) / 10000);
    expect(data.totals.deviceCoverage).toBe(Math.round((2.5 / 96) * 10000) / 10000);
    expect(data.totals.devices).toBe(2);
    expect(data.totals.windows).toBe(2);
  });

  test("an empty period has no devices and zero coverage", () => {
    const data = buildReport(input([]));
    expect(data.devices).toEqual([]);
    expect(data.totals).toMatchObject({ devices: 0, gpuHours: 0, busyGpuHours: null, energyKwh: null, utilizationAverage: null, coverage: 0 });
    expect(data.hostGaps).toEqual([{ from: local(2026, 11, 2), to: local(2026, 11, 4), kind: "missing", share: null }]);
  });
});

describe("devices", () => {
  test("come in PCI bus order, each with its usage row", () => {
    const from = local(2026, 11, 2);
    const data = buildReport(input([window(from, 1), window(from, 2)]));
    expect(data.devices.map((d) => d.uid)).toEqual(["GPU-a", "GPU-b"]);
    expect(data.devices[0]!.usage?.key).toBe("GPU-a");
    expect(data.devices[0]!.memoryTotalGib).toBe(80);
  });

  test("are numbered by their slot among all stored GPUs, the same in every period", () => {
    const from = local(2026, 11, 2);
    const gpus = new Map([
      [1, gpu(1, "GPU-b", "00000000:3B:00.0")],
      [2, gpu(2, "GPU-a", "00000000:18:00.0")],
      [3, gpu(3, "GPU-c", "00000000:86:00.0")],
      // GPU-a's slot, after it was replaced.
      [4, gpu(4, "GPU-d", "00000000:18:00.0")],
    ]);
    const only = (windows: StoredWindowGpu[]) => buildReport(input(windows, { gpus, usage: usageByGpu(windows, gpus, from, from + 2 * 86_400) })).devices;
    expect(only([window(from, 3)]).map((d) => [d.label, d.anchor])).toEqual([["GPU 2", "gpu-2"]]);
    expect(only([window(from, 1), window(from, 3)]).map((d) => d.label)).toEqual(["GPU 1", "GPU 2"]);
    expect(only([window(from, 4), window(from, 1)]).map((d) => d.label)).toEqual(["GPU 0", "GPU 1"]);
    // Both GPUs of slot 0 in one period: one number, two sections.
    expect(only([window(from, 2), window(from, 4)]).map((d) => [d.label, d.anchor])).toEqual([
      ["GPU 0", "gpu-0"],
      ["GPU 0", "gpu-0-4"],
    ]);
  });

  test("days and the heat map follow local time", () => {
    // 23:00 local on 2 November is 22:00 UTC: it belongs to the 2nd, hour 23.
    const late = local(2026, 11, 2, 23);
    const next = local(2026, 11, 3, 0);
    const data = buildReport(input([window(late, 1, { gpu_utilization: 80 }), window(next, 1, { gpu_utilization: 20, energy_mj: 3_600_000_000 })]));
    const device = data.devices[0]!;
    expect(device.days.map((d) => d.start)).toEqual([local(2026, 11, 2), local(2026, 11, 3)]);
    expect(device.heat[0]![23]).toBe(80);
    expect(device.heat[1]![0]).toBe(20);
    expect(device.heat[0]!.filter((v) => v !== null)).toHaveLength(1);
    expect(device.days[0]!.energyKwh).toBe(0.3);
    expect(device.days[1]!.energyKwh).toBe(1);
    expect(device.days[1]!.powerWatts).toBe(300);
  });

  test("a day's utilization is weighted by samples", () => {
    const from = local(2026, 11, 2, 8);
    const data = buildReport(input([window(from, 1, { gpu_utilization: 90 }, 60), window(from + HOUR, 1, { gpu_utilization: 30 }, 20)]));
    expect(data.devices[0]!.days[0]!.utilization).toBe(75);
  });

  test("XIDs from the windows, ECC errors by window, GPU events by uuid or by index in PCI order", () => {
    const from = local(2026, 11, 2, 8);
    const xids = JSON.stringify([{ time: "2026-11-02T07:20:00Z", code: 79, description: "GPU has fallen off the bus" }]);
    const events: StoredEvent[] = [
      { ts: from + 1500, kind: "gpu_lost", gpu_index: 1, detail: "GPU 1: NVML_ERROR_GPU_IS_LOST", gpu_uuid: null, code: 15 },
      { ts: from + 2000, kind: "gpu_recovered", gpu_index: 0, detail: "GPU 0 is readable again", gpu_uuid: "GPU-a", code: null },
      { ts: from + 2500, kind: "nvml_lost", gpu_index: null, detail: "NVML stopped answering", gpu_uuid: null, code: null },
    ];
    const data = buildReport(input([window(from, 1, { xid_count: 1, xid_errors: xids, ecc_errors_uncorrected_delta: 2 }), window(from, 2)], { events }));
    const [a, b] = data.devices;
    expect(b!.uid).toBe("GPU-b");
    expect(b!.health.map((m) => [m.kind, m.ts])).toEqual([
      ["ecc", from],
      ["xid", Date.parse("2026-11-02T07:20:00Z") / 1000],
      ["gpu_lost", from + 1500],
    ]);
    expect(b!.health[1]!.text).toBe("XID 79: GPU has fallen off the bus");
    expect(b!.health[0]!.text).toBe("ECC errors in this window: 2 uncorrected");
    expect(a!.health.map((m) => m.kind)).toEqual(["gpu_recovered"]);
    expect(data.hostHealth).toEqual([{ ts: from + 2500, kind: "driver", text: "nvml_lost: NVML stopped answering" }]);
  });
});

describe("coverage gaps", () => {
  const from = local(2026, 11, 2);
  test("time without windows and windows without samples merge; partial windows stand alone", () => {
    const windows = [window(from, 1), window(from + HOUR, 1, {}, 0), window(from + 3 * HOUR, 1, {}, 45), window(from + 4 * HOUR, 1)];
    expect(coverageGaps(windows, from, from + 6 * HOUR)).toEqual([
      { from: from + HOUR, to: from + 3 * HOUR, kind: "missing", share: null },
      { from: from + 3 * HOUR, to: from + 4 * HOUR, kind: "partial", share: 0.75 },
      { from: from + 5 * HOUR, to: from + 6 * HOUR, kind: "missing", share: null },
    ]);
  });

  test("time after the last stored window is not yet aggregated, not a gap", () => {
    expect(coverageGaps([window(from, 1)], from, from + HOUR)).toEqual([]);
    const data = buildReport(input([window(from, 1)], { closedUntil: from + HOUR }));
    expect(data.devices[0]!.gaps).toEqual([]);
    expect(data.hostGaps).toEqual([]);
  });
});

test("the period's time zone names both offsets where DST changes within it", () => {
  expect(timeZoneName(local(2026, 10, 1), local(2026, 11, 1))).toBe("+02:00 to +01:00 (Europe/Berlin)");
  expect(timeZoneName(local(2026, 11, 1), local(2026, 12, 1))).toBe("+01:00 (Europe/Berlin)");
  expect(buildReport(input([], { period: { from: local(2026, 3, 1), to: local(2026, 4, 1) } })).timeZone).toBe("+01:00 to +02:00 (Europe/Berlin)");
});

test("local days include 23- and 25-hour days", () => {
  const days = localDays(local(2026, 10, 24), local(2026, 10, 27));
  expect(days).toEqual([local(2026, 10, 24), local(2026, 10, 25), local(2026, 10, 26)]);
  expect((days[2]! - days[1]!) / HOUR).toBe(25);
});

describe("uploads", () => {
  const summary = (start: number, state: WindowSummary["send_state"], attempts: number, lastAttempt: number | null, lastError: string | null): WindowSummary => ({
    start,
    attempts,
    first_attempt: lastAttempt,
    last_attempt: lastAttempt,
    last_error: lastError,
    server_uid: null,
    send_state: state,
    sent_at: null,
  });

  test("counts delivered, pending, failed and retried windows and names the last failure", () => {
    const t = local(2026, 11, 2);
    const ledger = [
      summary(t, "sent", 1, t + 4000, null),
      summary(t + HOUR, "sent", 3, t + 9000, null),
      summary(t + 2 * HOUR, "failed", 10, t + 20_000, "HTTP 422: contract unknown"),
      summary(t + 3 * HOUR, "pending", 2, t + 15_000, "HTTP 503: Service Unavailable"),
      summary(t + 4 * HOUR, "pending", 0, null, null),
    ];
    const uploads = buildReport(input([], { ledger })).uploads;
    expect(uploads).toMatchObject({ windows: 5, delivered: 2, pending: 2, failed: 1, retried: 3, attempts: 16 });
    expect(uploads.lastFailure).toEqual({ at: t + 20_000, windowStart: t + 2 * HOUR, error: "HTTP 422: contract unknown" });
    expect(uploads.problems.map((p) => p.windowStart)).toEqual([t + 3 * HOUR, t + 2 * HOUR, t + HOUR]);
  });

  test("a window retried and then sent shows its last failure's reason", () => {
    const t = local(2026, 11, 2);
    const ledger = [
      { ...summary(t, "sent", 3, t + 9000, null), lastFailure: { at: t + 8000, error: "HTTP 503: Service Unavailable" } },
      { ...summary(t + HOUR, "sent", 1, t + 9500, null), lastFailure: null },
    ];
    const uploads = buildReport(input([], { ledger })).uploads;
    expect(uploads.problems).toEqual([{ windowStart: t, state: "sent", attempts: 3, lastAttempt: t + 9000, lastError: "HTTP 503: Service Unavailable" }]);
    expect(uploads.lastFailure).toEqual({ at: t + 8000, windowStart: t, error: "HTTP 503: Service Unavailable" });
  });
});

describe("MIG devices", () => {
  test("follow their GPU, named by profile; their utilization is GPM's graphics activity; the GPU count leaves them out", () => {
    const from = local(2026, 11, 2, 8);
    const gpus = new Map<number, StoredGpu>([
      [1, gpu(1, "GPU-b", "00000000:3B:00.0")],
      [2, gpu(2, "GPU-a", "00000000:18:00.0")],
      [3, { ...gpu(3, "MIG-2", "00000000:18:00.0"), identity: { uid: "MIG-2", name: "NVIDIA H100 80GB HBM3", parent_uid: "GPU-a", mig_profile: "4g.40gb", gpu_instance_id: 2 } }],
      [4, { ...gpu(4, "MIG-1", "00000000:18:00.0"), identity: { uid: "MIG-1", name: "NVIDIA H100 80GB HBM3", parent_uid: "GPU-a", mig_profile: "3g.40gb", gpu_instance_id: 1 } }],
    ]);
    const slice = (id: number, activity: number) =>
      window(from, id, { gpu_utilization: null, gpu_utilization_min: null, gpu_utilization_max: null, graphics_activity: activity, graphics_activity_min: activity - 1000, graphics_activity_max: activity + 1000 });
    const windows = [window(from, 1), window(from, 2), slice(3, 4250), slice(4, 2000)];
    const data = buildReport(input(windows, { gpus, usage: usageByGpu(windows, gpus, local(2026, 11, 2), local(2026, 11, 4)) }));
    expect(data.devices.map((d) => [d.label, d.anchor, d.parentUid])).toEqual([
      ["GPU 0", "gpu-0", null],
      ["GPU 0 · MIG 3g.40gb", "gpu-0-mig-0", "GPU-a"],
      ["GPU 0 · MIG 4g.40gb", "gpu-0-mig-1", "GPU-a"],
      ["GPU 1", "gpu-1", null],
    ]);
    expect(data.devices[2]!.hours[0]).toMatchObject({ utilization: 42.5, utilizationMin: 32.5, utilizationMax: 52.5 });
    expect(data.devices[2]!.heat[0]![8]).toBe(42.5);
    expect(data.totals.devices).toBe(2);
    expect(data.totals.migDevices).toBe(2);
  });
});

describe("open windows (not aggregated yet, read from raw samples)", () => {
  test("are in the device's hours and days, marked open, and not in the totals", () => {
    const from = local(2026, 11, 2);
    const closed = [window(from, 1), window(from + HOUR, 1)];
    const open = [window(from + 2 * HOUR, 1, { energy_mj: 3_600_000_000 })];
    const data = buildReport(input(closed, { openWindows: open, closedUntil: from + 2 * HOUR, generatedAt: from + 3 * HOUR }));
    const device = data.devices[0]!;
    expect(device.hours.map((h) => h.open)).toEqual([false, false, true]);
    expect(device.days[0]!.energyKwh).toBe(1.6);
    expect(data.totals.energyKwh).toBe(0.6);
    expect(data.totals.gpuHours).toBe(2);
    expect(data.openWindows).toEqual({ count: 1, from: from + 2 * HOUR });
  });

  test("the window still running is no partial gap; time without samples after the last stored window is", () => {
    const from = local(2026, 11, 2);
    const closed = [window(from, 1)];
    const running = [window(from + 3 * HOUR, 1, {}, 20)];
    const data = buildReport(input(closed, { openWindows: running, closedUntil: from + HOUR, generatedAt: from + 3 * HOUR + 1200 }));
    expect(data.devices[0]!.gaps).toEqual([{ from: from + HOUR, to: from + 3 * HOUR, kind: "missing", share: null }]);
  });
});

describe("a period with no samples, and one running into the future", () => {
  test("open windows without a sample list no GPU and no window not aggregated yet; the time is a gap", () => {
    const from = local(2026, 11, 2);
    const empty = [window(from, 1, {}, 0), window(from, 2, {}, 0), window(from + HOUR, 1, {}, 0)];
    const data = buildReport(input([], { period: { from, to: from + 2 * HOUR }, openWindows: empty, closedUntil: null, generatedAt: from + 2 * HOUR }));
    expect(data.devices).toEqual([]);
    expect(data.openWindows).toEqual({ count: 0, from: null });
    expect(data.totals.coverage).toBe(0);
    expect(data.hostGaps).toEqual([{ from, to: from + 2 * HOUR, kind: "missing", share: null }]);
  });

  test("a GPU with no sample in the open windows keeps its stored ones; its empty open hours are not listed", () => {
    const from = local(2026, 11, 2);
    const data = buildReport(input([window(from, 1)], { period: { from, to: from + 3 * HOUR }, openWindows: [window(from + HOUR, 1, {}, 0), window(from + HOUR, 2, {}, 0)], closedUntil: from + HOUR, generatedAt: from + 3 * HOUR }));
    expect(data.devices.map((device) => device.gpuId)).toEqual([1]);
    expect(data.devices[0]!.hours.map((h) => h.start)).toEqual([from]);
    expect(data.devices[0]!.gaps).toEqual([{ from: from + HOUR, to: from + 3 * HOUR, kind: "missing", share: null }]);
  });

  test("coverage and gaps count the period up to now: the future is neither missing nor a gap", () => {
    const from = local(2026, 11, 2);
    const windows = [window(from, 1), window(from + HOUR, 1)];
    // A day asked for, two hours of it past, both covered.
    const data = buildReport(input(windows, { period: { from, to: from + 24 * HOUR }, closedUntil: from + 2 * HOUR, generatedAt: from + 2 * HOUR }));
    expect(data.totals.coverage).toBe(1);
    expect(data.totals.deviceCoverage).toBe(1);
    expect(data.devices[0]!.coverage).toBe(1);
    expect(data.devices[0]!.gaps).toEqual([]);
    expect(data.hostGaps).toEqual([]);
    // Raw samples read up to now, none after the first hour: the half hour since is a gap, the rest of the day is not.
    const late = buildReport(input([window(from, 1)], { period: { from, to: from + 24 * HOUR }, openWindows: [window(from + HOUR, 1, {}, 0)], closedUntil: from + HOUR, generatedAt: from + 90 * 60 }));
    expect(late.hostGaps).toEqual([{ from: from + HOUR, to: from + 90 * 60, kind: "missing", share: null }]);
    expect(late.totals.coverage).toBe(Math.round((1 / 1.5) * 10000) / 10000);
  });
});

test("attribution: the usage module's rows by user and container, in hours and kWh; none without rows", () => {
  const summary = (by: "user" | "container", keys: string[]) => ({
    from: 0,
    to: 1,
    by,
    rows: keys.map((key, i) => ({ key, label: null, gpuSeconds: 7200 * (i + 1), busySeconds: 3600, energyMj: 3.6e9, energyBasis: "sm_share" as const, utilizationAverage: 50, memoryPeakBytes: 2 * 1024 ** 3, windows: 2, parent: null })),
    total: { key: "total", label: null, gpuSeconds: 7200, busySeconds: 3600, energyMj: 3.6e9, energyBasis: "sm_share" as const, utilizationAverage: 50, memoryPeakBytes: 2 * 1024 ** 3, windows: 2, parent: null },
  });
  const data = buildReport(input([], { attribution: [summary("user", ["alice", "bob"]), summary("container", [])] }));
  expect(data.attribution).toHaveLength(1);
  expect(data.attribution[0]!.by).toBe("user");
  expect(data.attribution[0]!.rows[1]).toEqual({ key: "bob", gpuHours: 4, busyHours: 1, energyKwh: 1, energyBasis: "sm_share", utilizationAverage: 50, memoryPeakGib: 2 });
});
