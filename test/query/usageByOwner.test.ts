import { describe, expect, test } from "bun:test";
import { aggregateClosedWindows } from "../../src/aggregate/aggregator.ts";
import { ProcessAttribution } from "../../src/aggregate/attribution.ts";
import type { NamedProcess } from "../../src/collect/sample.ts";
import { usageCsv, usageJson, usageTable } from "../../src/cli/format/usage.ts";
import { gpuValues, sampleValues } from "../../src/metrics/catalog.ts";
import { readUsage, type UsageRow } from "../../src/query/usage.ts";
import { Store } from "../../src/store/store.ts";
import { gpuSample, tempDatabase } from "../helpers/samples.ts";

const T0 = 1_767_225_600; // 2026-01-01T00:00:00Z
const CONTAINER = "ab".repeat(32);

function proc(pid: number, name: string, user: string, sm: number | null, containerId: string | null = null): NamedProcess {
  return {
    kind: "compute",
    pid,
    usedMemoryBytes: pid * 1000,
    gpuInstanceId: null,
    computeInstanceId: null,
    name,
    owner: { startTicks: pid, startedAt: T0 - 60, uid: 1000, user, containerId, podUid: null, note: null },
    smPercent: sm,
    memoryPercent: sm,
    encoderPercent: 0,
    decoderPercent: 0,
  };
}

/**
 * Two hours of 60 s ticks. GPU 0: alice (60 % SM, in a container) and bob (20 %) all
 * along, and in the first hour alice's second process (no SM use). GPU 1: carol, whose GPU
 * gives no per-process utilization, for the first 30 minutes.
 */
function store(): Store {
  const s = Store.open(tempDatabase());
  const attribution = new ProcessAttribution("on", (v) => v);
  for (let tick = 0; tick < 120; tick++) {
    const ts = T0 + tick * 60;
    const gpus = [
      gpuSample({
        index: 0,
        uuid: "GPU-0",
        energyMillijoules: 1_000_000 * tick,
        processes: [proc(10, "train", "alice", 60, CONTAINER), proc(20, "serve", "bob", 20), ...(tick < 60 ? [proc(11, "prep", "alice", 0, CONTAINER)] : [])],
      }),
      gpuSample({ index: 1, uuid: "GPU-1", energyMillijoules: 2_000_000 * tick, processes: tick < 30 ? [proc(30, "lab", "carol", null)] : [] }),
    ];
    const ticks = attribution.tick(ts, 60, gpus);
    s.samples.writeTick(ts, gpus.map((gpu, i) => ({ identity: gpuValues(gpu), values: sampleValues(gpu), processes: ticks[i]! })));
  }
  aggregateClosedWindows(s, T0 + 7200 + 60, { periodSeconds: 3600, intervalSeconds: 60 });
  return s;
}

describe("usage by who used the GPU", () => {
  const s = store();
  const energy = (gpu: number, to = T0 + 7200) =>
    [...s.windows.between(T0, to)].filter((w) => w.gpuId === gpu + 1).reduce((sum, w) => sum + (w.values.energy_mj as number), 0);

  test("--by user: time with at least one process, SM seconds as busy time, energy split by SM share (else by time)", () => {
    const usage = readUsage(s, T0, T0 + 7200, "user");
    expect(usage.rows.map((r) => [r.key, r.gpuSeconds, r.busySeconds, r.utilizationAverage, r.energyBasis, r.windows])).toEqual([
      ["alice", 7200, 4320, 60, "sm_share", 2], // two processes in the first hour: still 3600 s there, not 7200
      ["bob", 7200, 1440, 20, "sm_share", 2],
      ["carol", 1800, null, null, "time_present", 1],
    ]);
    const [alice, bob, carol] = usage.rows;
    // GPU 0's energy goes 3 : 1 by SM share; of GPU 1's first hour carol, the only one there but for
    // 30 minutes of it, pays half: the idle half and the second hour, with nobody on it, are no one's.
    expect(alice!.energyMj! + bob!.energyMj!).toBeCloseTo(energy(0), -1);
    expect(alice!.energyMj! / bob!.energyMj!).toBeCloseTo(3, 3);
    expect(carol!.energyMj).toBeCloseTo(energy(1, T0 + 3600) / 2, -1);
    expect(energy(1)).toBeGreaterThan(energy(1, T0 + 3600));
    expect(usage.total).toMatchObject({ key: "total", gpuSeconds: 16200, energyBasis: "mixed" });
  });

  test("--by process: one row per process with its user and start; --by container and --by pod sum processes' time", () => {
    const byProcess = readUsage(s, T0, T0 + 7200, "process");
    expect(byProcess.rows.map((r) => [r.key, r.label, r.gpuSeconds, r.detail?.user])).toEqual([
      ["10", "train", 7200, "alice"],
      ["20", "serve", 7200, "bob"],
      ["11", "prep", 3600, "alice"],
      ["30", "lab", 1800, "carol"],
    ]);
    expect(byProcess.rows[2]!.energyMj).toBe(0); // no SM use: no share of the energy
    const byContainer = readUsage(s, T0, T0 + 7200, "container");
    expect(byContainer.rows.map((r) => [r.key, r.gpuSeconds])).toEqual([
      [CONTAINER, 10800],
      ["(none)", 9000],
    ]);
    expect(readUsage(s, T0, T0 + 7200, "pod").rows.map((r) => [r.key, r.gpuSeconds])).toEqual([["(none)", 19800]]);
  });

  test("a range holds whole windows only", () => {
    expect(readUsage(s, T0 + 3600, T0 + 7200, "user").rows.map((r) => [r.key, r.gpuSeconds])).toEqual([
      ["alice", 3600],
      ["bob", 3600],
    ]);
  });

  test("output: JSON and CSV name the group and the energy basis; the table fits 80 columns", () => {
    const byProcess = readUsage(s, T0, T0 + 7200, "process");
    const document = JSON.parse(usageJson(byProcess));
    expect(document.rows[0]).toMatchObject({ pid: 10, name: "train", user: "alice", started_at: "2025-12-31T23:59:00Z", gpu_seconds: 7200, energy_basis: "sm_share" });
    const csv = usageCsv(readUsage(s, T0, T0 + 7200, "user")).trimEnd().split("\n");
    expect(csv[0]).toBe("user,gpu_seconds,gpu_hours,busy_seconds,busy_gpu_hours,energy_kwh,energy_basis,utilization_avg,memory_peak_bytes,windows");
    expect(csv[3]).toMatch(/^carol,1800,0\.5,,,[\d.]+,time_present,,30000,1$/);
    // CSV's columns are JSON's keys, for every grouping: a process's user and start too.
    const processCsv = usageCsv(byProcess).trimEnd().split("\n");
    expect(processCsv[0]).toBe("pid,name,user,started_at,gpu_seconds,gpu_hours,busy_seconds,busy_gpu_hours,energy_kwh,energy_basis,utilization_avg,memory_peak_bytes,windows");
    expect(processCsv[1]).toStartWith("10,train,alice,2025-12-31T23:59:00Z,7200,");
    for (const by of ["gpu", "user", "process", "container", "pod"] as const) {
      const summary = readUsage(s, T0, T0 + 7200, by);
      const json = JSON.parse(usageJson(summary));
      expect(Object.keys(json.rows[0])).toEqual(usageCsv(summary).split("\n")[0]!.split(","));
      expect(Object.keys(json.total)).toEqual(Object.keys(json.rows[0]));
      if (by !== "gpu" && by !== "process") expect(json.rows[0]).not.toHaveProperty("name");
    }
    for (const by of ["user", "process", "container", "pod"] as const) {
      const lines = usageTable(readUsage(s, T0, T0 + 7200, by)).trimEnd().split("\n");
      for (const line of lines) expect(Bun.stringWidth(line)).toBeLessThanOrEqual(80);
    }
    expect(usageTable(readUsage(s, T0, T0 + 7200, "container"))).toContain(CONTAINER.slice(0, 12));
  });

  test("energy: a 5-minute job in an otherwise idle hour pays for its 5 minutes, not the hour; no energy, no basis", () => {
    const idle = Store.open(tempDatabase());
    const attribution = new ProcessAttribution("on", (v) => v);
    for (let tick = 0; tick < 60; tick++) {
      const ts = T0 + tick * 60;
      const gpus = [
        gpuSample({ index: 0, uuid: "GPU-0", energyMillijoules: 1_000_000 * tick, processes: tick < 5 ? [proc(40, "quick", "dave", 90)] : [] }),
        gpuSample({ index: 1, uuid: "GPU-1", energyMillijoules: null, powerUsageMilliwatts: null, processes: [proc(50, "nometer", "erin", 10)] }),
      ];
      const ticks = attribution.tick(ts, 60, gpus);
      idle.samples.writeTick(ts, gpus.map((gpu, i) => ({ identity: gpuValues(gpu), values: sampleValues(gpu), processes: ticks[i]! })));
    }
    aggregateClosedWindows(idle, T0 + 3600 + 60, { periodSeconds: 3600, intervalSeconds: 60 });
    const hour = [...idle.windows.between(T0, T0 + 3600)].find((w) => w.gpuId === 1)!.values.energy_mj as number;
    expect(hour).toBeGreaterThan(0);
    const usage = readUsage(idle, T0, T0 + 3600, "user");
    const dave = usage.rows.find((r) => r.key === "dave")!;
    expect(dave.gpuSeconds).toBe(300);
    expect(dave.energyMj!).toBeCloseTo((hour * 300) / 3600, -1);
    expect(dave.energyBasis).toBe("sm_share");
    const erin = usage.rows.find((r) => r.key === "erin")!;
    expect(erin.energyMj).toBeNull();
    expect(erin.energyBasis).toBeNull();
    expect(JSON.parse(usageJson(usage)).rows.find((r: any) => r.user === "erin").energy_basis).toBeNull();
    idle.close();
  });

  test("the table fits 80 columns for a year of 8 big GPUs: 70080 GPU-h, 49056 kWh, 141 GiB, long keys and names", () => {
    const year = 8 * 365 * 86400;
    const row = (key: string, label: string, parent: string | null = null): UsageRow => ({
      key,
      label,
      gpuSeconds: year,
      busySeconds: year,
      energyMj: 8 * 700 * 365 * 86400 * 1000,
      energyBasis: "time_present",
      utilizationAverage: 100,
      memoryPeakBytes: 141 * 2 ** 30,
      windows: 70080,
      parent,
    });
    for (const by of ["gpu", "user", "process", "container", "pod"] as const) {
      const rows = [row("4194304", "python3-train-very-long-name"), row("averyveryverylongusername", "x"), row("MIG-4a1e8f3c-5b2d-5e6f-9a7b-1c2d3e4f5a6b", "MIG 3g.40gb", "GPU-0")];
      const table = usageTable({ from: T0, to: T0 + 365 * 86400, by, rows, total: row("total", "") });
      expect(table).toContain(" 49056 ");
      for (const line of table.trimEnd().split("\n")) expect(Bun.stringWidth(line)).toBeLessThanOrEqual(80);
    }
  });
});

describe("usage by who used a GPU in MIG mode", () => {
  /**
   * An hour of 60 s ticks of an H100 in MIG mode with a 3g and a 1g MIG device (and an idle 1g): dave
   * on the 3g device all hour, erin on a 1g device the first half. The GPU lists them too, as NVML does.
   */
  function migStore(): Store {
    const s = Store.open(tempDatabase());
    const attribution = new ProcessAttribution("on", (v) => v);
    for (let tick = 0; tick < 60; tick++) {
      const ts = T0 + tick * 60;
      const dave = proc(40, "train", "dave", null);
      const erin = proc(50, "eval", "erin", null);
      const slice = (uuid: string, profile: string, gi: number, processes: NamedProcess[]) =>
        gpuSample({ index: 0, uuid, name: `NVIDIA H100 80GB HBM3 MIG ${profile}`, parentUuid: "GPU-H", migProfile: profile, gpuInstanceId: gi, energyMillijoules: null, powerUsageMilliwatts: null, powerLimitMilliwatts: null, processes });
      const gpus = [
        gpuSample({ index: 0, uuid: "GPU-H", migMode: true, energyMillijoules: 1_000_000 * tick, processes: [dave, ...(tick < 30 ? [erin] : [])] }),
        slice("MIG-3g", "3g.40gb", 2, [dave]),
        slice("MIG-1g", "1g.10gb", 9, tick < 30 ? [erin] : []),
        slice("MIG-idle", "1g.10gb", 10, []),
      ];
      const ticks = attribution.tick(ts, 60, gpus);
      s.samples.writeTick(ts, gpus.map((gpu, i) => ({ identity: gpuValues(gpu), values: sampleValues(gpu), processes: ticks[i]! })));
    }
    aggregateClosedWindows(s, T0 + 3600 + 60, { periodSeconds: 3600, intervalSeconds: 60 });
    return s;
  }

  test("a MIG device's processes share its GPU's energy by the device's compute slices, each once", () => {
    const s = migStore();
    const gpuEnergy = [...s.windows.between(T0, T0 + 3600)].find((w) => w.gpuId === 1)!.values.energy_mj as number;
    expect(gpuEnergy).toBeGreaterThan(0);
    const usage = readUsage(s, T0, T0 + 3600, "user");
    expect(usage.rows.map((r) => [r.key, r.gpuSeconds, r.energyBasis])).toEqual([
      ["dave", 3600, "time_present"],
      ["erin", 1800, "time_present"],
    ]);
    const [dave, erin] = usage.rows;
    // Slices 3 + 1 + 1: the 3g device's share is 3/5, busy all hour; the 1g device's 1/5, busy half of it.
    expect(dave!.energyMj!).toBeCloseTo((gpuEnergy * 3) / 5, -1);
    expect(erin!.energyMj!).toBeCloseTo(gpuEnergy / 5 / 2, -1);
    s.close();
  });
});
