// The binding's reads of what the driver keeps between readings: the sample
// buffers (nvmlDeviceGetSamples), events (nvmlEventSetWait*) and remapped rows,
// through bun:ffi against the fake libnvidia-ml, on a current and an old driver.

import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import type { Nvml } from "../../src/nvml/index.ts";
import { fakeNvmlSessions, writeScenario, type DriverVariant } from "../helpers/fakeNvml.ts";

const openScenario = fakeNvmlSessions();

/** The fake library on a scenario given as text; closed again after each test. */
function nvmlWith(scenario: string, variant: DriverVariant = "current"): Nvml {
  return openScenario(writeScenario(scenario), variant);
}

async function sleep(ms: number): Promise<void> {
  await Bun.sleep(ms);
}

describe("driver sample buffers", () => {
  test("the buffer's length, then the samples after a timestamp, oldest first, on the period's grid", () => {
    const nvml = nvmlWith("gpu0.samples.gpu_utilization = 10,20,30,40\ngpu0.samples.period_ms = 50\ngpu0.samples.length = 30\n");
    expect(nvml.sampleBufferLength!(0, "gpu_utilization")).toBe(30);
    const all = nvml.readSamples!(0, "gpu_utilization", 0)!;
    expect(all.count).toBe(30); // the ring holds the newest 30
    const stamps = Array.from(all.timestampsUs.subarray(0, all.count));
    expect(stamps.every((at, i) => i === 0 || at - stamps[i - 1]! === 50_000)).toBe(true);
    expect(Math.abs(stamps.at(-1)! / 1000 - Date.now())).toBeLessThan(200);
    // each value is the pattern's entry for the period the sample covers
    for (let i = 0; i < all.count; i++) expect(all.values[i]).toBe([10, 20, 30, 40][((stamps[i]! - 50_000) / 50_000) % 4]!);
    const newest = stamps.at(-1)!;
    const again = nvml.readSamples!(0, "gpu_utilization", newest)!;
    expect(again.count).toBeLessThanOrEqual(1); // at most the one period that closed since
  });

  test("nothing newer is an empty read, not an error; an empty buffer likewise", () => {
    const nvml = nvmlWith("gpu0.samples.memory_utilization =\n");
    expect(nvml.readSamples!(0, "memory_utilization", 0)!.count).toBe(0);
    expect(nvml.readSamples!(0, "gpu_utilization", Date.now() * 1000 + 10_000_000)!.count).toBe(0);
  });

  test("a ring read too late has lost its oldest samples", async () => {
    const nvml = nvmlWith("gpu0.samples.period_ms = 10\ngpu0.samples.length = 5\n");
    const first = nvml.readSamples!(0, "power", 0)!;
    const newest = first.timestampsUs[first.count - 1]!;
    await sleep(150); // 15 periods: the ring of 5 wrapped
    const later = nvml.readSamples!(0, "power", newest)!;
    expect(later.count).toBe(5);
    expect(later.timestampsUs[0]! - newest).toBeGreaterThan(50_000);
    expect(later.values[0]).toBe(50000); // the point value, mW
  });

  test("a GPU without support answers null; another GPU still answers", () => {
    const nvml = nvmlWith("gpu0.samples = !NOT_SUPPORTED\ngpu1.name = other\n");
    expect(nvml.sampleBufferLength!(0, "power")).toBeNull();
    expect(nvml.readSamples!(0, "gpu_utilization", 0)).toBeNull();
    expect(nvml.readSamples!(1, "gpu_utilization", 0)!.count).toBeGreaterThan(0);
  });

  test("a point reading follows the pattern's current period, not the fixed value", () => {
    const nvml = nvmlWith("gpu0.utilization.gpu = 5\ngpu0.samples.gpu_utilization = 70,30\ngpu0.samples.period_ms = 1000\n");
    const valueAt = (ms: number) => (Math.floor(ms / 1000) % 2 === 0 ? 70 : 30);
    const before = valueAt(Date.now());
    const reading = nvml.readGpu(0);
    const after = valueAt(Date.now());
    // a second boundary may fall during the read: the period in progress at either end
    expect([before, after]).toContain(reading.gpuUtilizationPercent!);
    expect(reading.utilizationSamples).toBe(0);
  });

  test("an old driver's library has the buffers too", () => {
    const nvml = nvmlWith("gpu0.name = old\n", "old");
    expect(nvml.sampleBufferLength!(0, "gpu_utilization")).toBe(100);
    expect(nvml.readSamples!(0, "gpu_utilization", 0)!.count).toBe(100);
  });
});

describe("events", () => {
  test("an XID, ECC errors and a GPU gone unavailable arrive once due, with the GPU and the XID code", async () => {
    const nvml = nvmlWith(
      [
        "gpu0.name = a",
        "gpu1.events.supported = 0x400b", // XID, ECC, unavailable
        "gpu1.events.list = xid:79@150, single_bit_ecc@100, clock@50, double_bit_ecc@120, gpu_unavailable@200",
      ].join("\n"),
    );
    nvml.readGpu(0);
    nvml.readGpu(1);
    expect(nvml.watchEvents!()).toBe(true);
    expect(nvml.takeEvents!()).toEqual([]);
    await sleep(260);
    const uuid = nvml.readGpu(1).uuid;
    expect(nvml.takeEvents!()).toEqual([
      { index: 1, uuid, kind: "single_bit_ecc", code: null },
      { index: 1, uuid, kind: "double_bit_ecc", code: null },
      { index: 1, uuid, kind: "xid", code: 79 },
      { index: 1, uuid, kind: "gpu_unavailable", code: null },
    ]);
    expect(nvml.takeEvents!()).toEqual([]); // each event once
    // an ECC event is also a counted error
    expect(nvml.readGpu(1).eccErrorsCorrected).toBe(1);
    expect(nvml.readGpu(1).eccErrorsUncorrected).toBe(1);
  });

  test("a GPU opened after watching starts is registered too; one without event support is left out", async () => {
    const nvml = nvmlWith("gpu0.events = !NOT_SUPPORTED\ngpu0.events.list = xid:13@50\ngpu1.events.list = xid:31@50\n");
    expect(nvml.watchEvents!()).toBe(true);
    nvml.readGpu(0);
    nvml.readGpu(1);
    await sleep(120);
    expect(nvml.takeEvents!().map((event) => [event.index, event.code])).toEqual([[1, 31]]);
  });

  test("a registered GPU lost: one gpu_unavailable event, not one per poll while it stays lost", () => {
    const scenario = writeScenario("reload_on_change = 1\ngpu0.name = a\n");
    const nvml = openScenario(scenario);
    nvml.readGpu(0);
    nvml.watchEvents!();
    writeFileSync(scenario, "reload_on_change = 1\ngpu0.name = a\ngpu0.lost = 1\n# changed\n");
    nvml.deviceCount(); // the fake re-reads a changed scenario here
    expect(nvml.takeEvents!()).toEqual([{ index: null, uuid: null, kind: "gpu_unavailable", code: null }]);
    expect(nvml.takeEvents!()).toEqual([]);
  });

  test("the old driver's nvmlEventSetWait (v1) delivers the same", async () => {
    const nvml = nvmlWith("gpu0.events.list = xid:48@40\n", "old");
    expect(nvml.boundSymbols.eventSetWait).toBe("nvmlEventSetWait");
    nvml.readGpu(0);
    nvml.watchEvents!();
    await sleep(100);
    expect(nvml.takeEvents!()).toEqual([{ index: 0, uuid: nvml.readGpu(0).uuid, kind: "xid", code: 48 }]);
  });
});

describe("remapped rows", () => {
  test("corrected, uncorrected, pending and failed, from nvmlDeviceGetRemappedRows", () => {
    const nvml = nvmlWith("gpu0.remapped_rows = 3,1,1,0\ngpu1.remapped_rows = !NOT_SUPPORTED\n");
    expect(nvml.boundSymbols.eventSetWait).toBe("nvmlEventSetWait_v2");
    const gpu = nvml.readGpu(0);
    expect([gpu.remappedRowsCorrectable, gpu.remappedRowsUncorrectable, gpu.remappedRowsPending, gpu.remappedRowsFailure]).toEqual([3, 1, true, false]);
    const other = nvml.readGpu(1);
    expect([other.remappedRowsCorrectable, other.remappedRowsPending]).toEqual([null, null]);
    expect(other.fieldErrors).toEqual({});
  });

  test("an old driver has no such call: null, no error", () => {
    const nvml = nvmlWith("gpu0.remapped_rows = 3,1,1,0\n", "old");
    expect(nvml.boundSymbols.remappedRows).toBeNull();
    expect(nvml.readGpu(0).remappedRowsCorrectable).toBeNull();
  });
});

describe("energy counter", () => {
  test("grows at the set rate and restarts at a reset; an old driver has none", async () => {
    const nvml = nvmlWith("gpu0.energy = 1000\ngpu0.energy.rate_mw = 100000\ngpu0.energy.reset_after_ms = 300\n");
    const before = nvml.readGpu(0).energyMillijoules!;
    await sleep(100);
    const later = nvml.readGpu(0).energyMillijoules!;
    expect(later - before).toBeGreaterThanOrEqual(9_000); // 100 W for >= 0.1 s
    await sleep(250);
    expect(nvml.readGpu(0).energyMillijoules!).toBeLessThan(later); // reset
    const old = nvmlWith("gpu0.energy.rate_mw = 100000\n", "old");
    expect(old.readGpu(0).energyMillijoules).toBeNull();
  });
});
