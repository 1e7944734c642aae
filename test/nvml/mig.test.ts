// MIG devices and GPM activity through bun:ffi against the fake libnvidia-ml:
// an H100 in MIG mode with three MIG devices and GPM, an A100 without either,
// a layout changed while the session runs, and an old driver without the symbols.

import { describe, expect, test } from "bun:test";
import { dlopen, FFIType, ptr } from "bun:ffi";
import { readFileSync, writeFileSync } from "node:fs";
import type { Nvml } from "../../src/nvml/index.ts";
import { encodeGpmMetricsGet, GPM_METRICS_GET_SIZE, GPM_METRICS_GET_VERSION, decodeGpmMetrics, GPM_METRIC } from "../../src/nvml/structs.ts";
import { fakeNvmlLibrary, fakeNvmlSessions, scenarioFile, useScenarioInProcess, writeScenario, type DriverVariant } from "../helpers/fakeNvml.ts";

const openScenario = fakeNvmlSessions();
const MIG_SCENARIO = readFileSync(scenarioFile("h100_mig"), "utf8");

function nvmlWith(scenario: string, variant: DriverVariant = "current"): { nvml: Nvml; path: string } {
  const path = writeScenario(scenario);
  return { nvml: openScenario(path, variant), path };
}

/** GPM samples apart in time, as NVML wants them (the span is checked). */
async function tick(): Promise<void> {
  await Bun.sleep(5);
}

describe("MIG devices", () => {
  test("a GPU in MIG mode says so, its own utilization is not supported (null, no error), its slices are devices of their own", () => {
    const { nvml } = nvmlWith(MIG_SCENARIO);
    const gpu = nvml.readGpu(0);
    expect([gpu.migMode, gpu.migModePending]).toEqual([true, true]);
    expect([gpu.gpuUtilizationPercent, gpu.memoryUtilizationPercent]).toEqual([null, null]);
    expect(gpu.fieldErrors).toEqual({});
    expect(gpu.parentUuid).toBeNull();
    const slices = nvml.readMigDevices!(0);
    expect(slices.map((slice) => [slice.uuid, slice.parentUuid, slice.gpuInstanceId, slice.computeInstanceId, slice.migProfile, slice.name])).toEqual([
      ["MIG-4a1e8f3c-5b2d-5e6f-9a7b-1c2d3e4f5a6b", gpu.uuid, 2, 0, "3g.40gb", "NVIDIA H100 80GB HBM3 MIG 3g.40gb"],
      ["MIG-7b2c9d4e-6f3a-5b1c-8d2e-3f4a5b6c7d8e", gpu.uuid, 9, 0, "1g.10gb", "NVIDIA H100 80GB HBM3 MIG 1g.10gb"],
      ["MIG-9d3e1f5a-7b4c-5d2e-9f3a-4b5c6d7e8f9a", gpu.uuid, 10, 0, "1g.10gb", "NVIDIA H100 80GB HBM3 MIG 1g.10gb"],
    ]);
    const [training, inference, idle] = slices;
    expect([training!.memoryTotalBytes, training!.memoryUsedBytes, training!.memoryFreeBytes]).toEqual([42949672960, 21474836480, 21474836480]);
    expect(training!.processes).toEqual([{ pid: 4242, kind: "compute", usedMemoryBytes: 21474836480, gpuInstanceId: 2, computeInstanceId: 0 }]);
    expect(inference!.processes!.map((p) => p.pid)).toEqual([5151]);
    expect(idle!.processes).toEqual([]);
    // What belongs to the GPU is read on the GPU, not on a slice.
    expect([training!.temperatureCelsius, training!.powerUsageMilliwatts, training!.energyMillijoules, training!.gpuUtilizationPercent]).toEqual([null, null, null, null]);
    expect(training!.pciBusId).toBe(gpu.pciBusId);
    expect(training!.index).toBe(0);
    expect(training!.fieldErrors).toEqual({});
  });

  test("a GPU without MIG has no mode and no slices; nothing about it changes", () => {
    const { nvml } = nvmlWith(MIG_SCENARIO);
    const gpu = nvml.readGpu(1);
    expect([gpu.migMode, gpu.gpm, gpu.parentUuid, gpu.migProfile]).toEqual([null, null, null, null]);
    expect([gpu.gpuUtilizationPercent, gpu.memoryUtilizationPercent]).toEqual([40, 10]);
    expect(nvml.readMigDevices!(1)).toEqual([]);
    expect(nvml.gpmSupported!(1)).toBe(false);
  });

  test("a layout changed while the session runs is read at the next enumeration; a slice's reused index gets its new identity", async () => {
    const { nvml, path } = nvmlWith(MIG_SCENARIO);
    nvml.readGpu(0);
    expect(nvml.readMigDevices!(0).map((slice) => slice.migProfile)).toEqual(["3g.40gb", "1g.10gb", "1g.10gb"]);
    // The 3g.40gb is destroyed and two 2g.20gb made in its place; the 1g.10gb on GI 10 stays.
    const changed = MIG_SCENARIO.replace(/^gpu0\.mig[01]\..*$/gm, "")
      .concat("\ngpu0.mig0.uuid = MIG-aaaaaaaa-0000-5000-8000-000000000001\ngpu0.mig0.profile = 2g.20gb\ngpu0.mig0.gi = 3\n")
      .concat("gpu0.mig1.uuid = MIG-aaaaaaaa-0000-5000-8000-000000000002\ngpu0.mig1.profile = 2g.20gb\ngpu0.mig1.gi = 4\n")
      .concat("gpu0.mig1.memory.total = 21474836480\n");
    await Bun.sleep(1100); // the fake notices a change by mtime (seconds) or size
    writeFileSync(path, changed);
    expect(nvml.deviceCount()).toBe(2); // the fake re-reads its scenario here
    nvml.readGpu(0);
    const slices = nvml.readMigDevices!(0);
    expect(slices.map((slice) => [slice.uuid, slice.gpuInstanceId, slice.migProfile])).toEqual([
      ["MIG-aaaaaaaa-0000-5000-8000-000000000001", 3, "2g.20gb"],
      ["MIG-aaaaaaaa-0000-5000-8000-000000000002", 4, "2g.20gb"],
      ["MIG-9d3e1f5a-7b4c-5d2e-9f3a-4b5c6d7e8f9a", 10, "1g.10gb"],
    ]);
    expect(slices[1]!.memoryTotalBytes).toBe(21474836480);
    // MIG turned off: the GPU's own utilization answers again, no slices.
    await Bun.sleep(1100);
    writeFileSync(path, MIG_SCENARIO.replace("gpu0.mig.mode = 1", "gpu0.mig.mode = 0\ngpu0.utilization.gpu = 77"));
    nvml.deviceCount();
    const whole = nvml.readGpu(0);
    expect([whole.migMode, whole.gpuUtilizationPercent]).toEqual([false, 77]);
    expect(nvml.readMigDevices!(0)).toEqual([]);
  });

  test("the pending mode is reported apart from the current one", () => {
    const { nvml } = nvmlWith(MIG_SCENARIO.replace("gpu0.mig.mode = 1", "gpu0.mig.mode = 1\ngpu0.mig.pending = 0"));
    const gpu = nvml.readGpu(0);
    expect([gpu.migMode, gpu.migModePending]).toEqual([true, false]);
  });
});

describe("GPM activity", () => {
  test("the first reading has none; the next has the activity since, for the GPU and for each GPU instance", async () => {
    const { nvml } = nvmlWith(MIG_SCENARIO);
    expect(nvml.gpmSupported!(0)).toBe(true);
    expect(nvml.readGpu(0).gpm).toBeNull();
    expect(nvml.readMigDevices!(0).map((slice) => slice.gpm)).toEqual([null, null, null]);
    await tick();
    const gpu = nvml.readGpu(0);
    expect(gpu.gpm).toMatchObject({ smActivityPercent: 35.5, smOccupancyPercent: 20.25, tensorActivityPercent: 12, dramActivityPercent: 18.5, graphicsActivityPercent: 60 });
    expect(gpu.gpm!.spanMs).toBeGreaterThanOrEqual(4);
    const [training, inference, idle] = nvml.readMigDevices!(0);
    expect(training!.gpm).toMatchObject({ smActivityPercent: 71.5, smOccupancyPercent: 40.5, tensorActivityPercent: 25, dramActivityPercent: 33.25, graphicsActivityPercent: 90 });
    expect(inference!.gpm).toMatchObject({ smActivityPercent: 12.5, graphicsActivityPercent: 20 });
    expect(idle!.gpm).toMatchObject({ smActivityPercent: 0, graphicsActivityPercent: 0 });
  });

  test("a value strayed past 100 % or below 0 is held to 0–100, on the GPU and on a GPU instance", async () => {
    const strayed = MIG_SCENARIO.replace(/^gpu0\.gpm\.sm_util = .*$/m, "gpu0.gpm.sm_util = 100.4").replace(/^gpu0\.mig0\.gpm\.sm_util = .*$/m, "gpu0.mig0.gpm.sm_util = -0.3");
    expect(strayed).toContain("gpu0.gpm.sm_util = 100.4");
    expect(strayed).toContain("gpu0.mig0.gpm.sm_util = -0.3");
    const { nvml } = nvmlWith(strayed);
    nvml.readGpu(0);
    nvml.readMigDevices!(0);
    await tick();
    expect(nvml.readGpu(0).gpm?.smActivityPercent).toBe(100);
    expect(nvml.readMigDevices!(0)[0]!.gpm?.smActivityPercent).toBe(0);
  });

  test("compute instances of one GPU instance share its activity, read once", async () => {
    const shared = MIG_SCENARIO.replace("gpu0.mig2.gi = 10\ngpu0.mig2.ci = 0", "gpu0.mig2.gi = 9\ngpu0.mig2.ci = 1");
    const { nvml } = nvmlWith(shared);
    nvml.readGpu(0);
    nvml.readMigDevices!(0);
    await tick();
    nvml.readGpu(0);
    const slices = nvml.readMigDevices!(0);
    expect(slices.map((slice) => [slice.gpuInstanceId, slice.computeInstanceId, slice.gpm?.smActivityPercent])).toEqual([
      [2, 0, 71.5],
      [9, 0, 12.5],
      [9, 1, 12.5],
    ]);
  });

  test("a failed GPM sample gives null and the next reading none either: never a value over a span that lost a sample", async () => {
    const { nvml, path } = nvmlWith(MIG_SCENARIO);
    nvml.readGpu(0);
    await Bun.sleep(1100);
    writeFileSync(path, MIG_SCENARIO.replace("gpu0.gpm.supported = 1", "gpu0.gpm.supported = 1\ngpu0.gpm = !UNKNOWN"));
    nvml.deviceCount();
    const failed = nvml.readGpu(0);
    expect(failed.gpm).toBeNull();
    expect(failed.fieldErrors).toEqual({ gpm: "NVML_ERROR_UNKNOWN" });
    // each GPU instance's failure is told on its MIG device, not added to the GPU's reading
    expect(nvml.readMigDevices!(0).map((slice) => slice.fieldErrors)).toEqual([{ gpm: "NVML_ERROR_UNKNOWN" }, { gpm: "NVML_ERROR_UNKNOWN" }, { gpm: "NVML_ERROR_UNKNOWN" }]);
    expect(failed.fieldErrors).toEqual({ gpm: "NVML_ERROR_UNKNOWN" });
    await Bun.sleep(1100);
    writeFileSync(path, MIG_SCENARIO);
    nvml.deviceCount();
    expect(nvml.readGpu(0).gpm).toBeNull(); // the first good sample after the gap
    await tick();
    expect(nvml.readGpu(0).gpm?.smActivityPercent).toBe(35.5);
  });

  test("a GPU instance gone from the layout starts afresh when one with its id comes back", async () => {
    const { nvml, path } = nvmlWith(MIG_SCENARIO);
    nvml.readGpu(0);
    nvml.readMigDevices!(0);
    await Bun.sleep(1100);
    writeFileSync(path, MIG_SCENARIO.replace(/^gpu0\.mig1\..*$/gm, ""));
    nvml.deviceCount();
    nvml.readGpu(0);
    expect(nvml.readMigDevices!(0).map((slice) => slice.gpuInstanceId)).toEqual([2, 10]);
    await Bun.sleep(1100);
    writeFileSync(path, MIG_SCENARIO);
    nvml.deviceCount();
    nvml.readGpu(0);
    const back = nvml.readMigDevices!(0);
    expect(back.map((slice) => [slice.gpuInstanceId, slice.gpm === null])).toEqual([
      [2, false],
      [9, true],
      [10, false],
    ]);
  });
  test("a GPU instance destroyed and made again between two readings (same id, new MIG device) starts afresh: no value over the old instance's sample", async () => {
    const { nvml, path } = nvmlWith(MIG_SCENARIO);
    nvml.readGpu(0);
    nvml.readMigDevices!(0);
    await tick();
    nvml.readGpu(0);
    expect(nvml.readMigDevices!(0)[1]!.gpm?.smActivityPercent).toBe(12.5);
    await Bun.sleep(1100);
    writeFileSync(path, MIG_SCENARIO.replace("MIG-7b2c9d4e-6f3a-5b1c-8d2e-3f4a5b6c7d8e", "MIG-7b2c9d4e-0000-5000-8000-0000000000aa"));
    nvml.deviceCount();
    nvml.readGpu(0);
    const [training, remade] = nvml.readMigDevices!(0);
    expect([remade!.uuid, remade!.gpuInstanceId]).toEqual(["MIG-7b2c9d4e-0000-5000-8000-0000000000aa", 9]);
    // the first reading of the new instance has none, and is no error (NVML was never asked for a span across two instances)
    expect([remade!.gpm, remade!.fieldErrors]).toEqual([null, {}]);
    expect(training!.gpm?.smActivityPercent).toBe(71.5);
    await tick();
    nvml.readGpu(0);
    expect(nvml.readMigDevices!(0)[1]!.gpm?.smActivityPercent).toBe(12.5);
  });
});

describe("an old driver", () => {
  test("without MIG and GPM symbols every GPU reads as before: no mode, no slices, no activity", () => {
    const { nvml } = nvmlWith(MIG_SCENARIO, "old");
    for (const name of ["migMode", "migDeviceHandleByIndex", "gpmSampleGet", "gpmMetricsGet", "gpmMigSampleGet"]) expect(nvml.boundSymbols[name]).toBeNull();
    const gpu = nvml.readGpu(0);
    expect([gpu.migMode, gpu.gpm]).toEqual([null, null]);
    expect(gpu.memoryTotalBytes).toBe(85520809984);
    expect(nvml.readMigDevices!(0)).toEqual([]);
    expect(nvml.gpmSupported!(0)).toBeNull();
  });
});

describe("driver 520 (NVML 11.8): GPM, but no nvmlGpmMigSampleGet", () => {
  test("the GPU has its GPM activity, the MIG devices none and no error", async () => {
    const { nvml } = nvmlWith(MIG_SCENARIO, "r520");
    expect([nvml.boundSymbols.gpmSampleGet, nvml.boundSymbols.gpmMigSampleGet]).toEqual(["nvmlGpmSampleGet", null]);
    expect(nvml.gpmSupported!(0)).toBe(true);
    nvml.readGpu(0);
    nvml.readMigDevices!(0);
    await tick();
    expect(nvml.readGpu(0).gpm?.smActivityPercent).toBe(35.5);
    const slices = nvml.readMigDevices!(0);
    expect(slices.map((slice) => [slice.migProfile, slice.gpm, slice.fieldErrors])).toEqual([
      ["3g.40gb", null, {}],
      ["1g.10gb", null, {}],
      ["1g.10gb", null, {}],
    ]);
  });
});

describe("the fake's nvmlGpmMetricsGet", () => {
  test("checks the struct version and answers in nvmlGpmMetricsGet_t's layout", async () => {
    const library = dlopen(fakeNvmlLibrary("current"), {
      nvmlInit_v2: { args: [], returns: FFIType.i32 },
      nvmlShutdown: { args: [], returns: FFIType.i32 },
      nvmlDeviceGetHandleByIndex_v2: { args: [FFIType.u32, FFIType.ptr], returns: FFIType.i32 },
      nvmlGpmSampleAlloc: { args: [FFIType.ptr], returns: FFIType.i32 },
      nvmlGpmSampleFree: { args: [FFIType.u64], returns: FFIType.i32 },
      nvmlGpmSampleGet: { args: [FFIType.u64, FFIType.u64], returns: FFIType.i32 },
      nvmlGpmMetricsGet: { args: [FFIType.ptr], returns: FFIType.i32 },
    });
    const f = library.symbols;
    useScenarioInProcess(scenarioFile("h100_mig"));
    expect(f.nvmlInit_v2()).toBe(0);
    try {
      const out = new BigUint64Array(3);
      expect(f.nvmlDeviceGetHandleByIndex_v2(0, ptr(out))).toBe(0);
      expect(f.nvmlGpmSampleAlloc(ptr(out, 8))).toBe(0);
      expect(f.nvmlGpmSampleAlloc(ptr(out, 16))).toBe(0);
      const [gpu, first, second] = [out[0]!, out[1]!, out[2]!];
      expect(f.nvmlGpmSampleGet(gpu, first)).toBe(0);
      await tick();
      expect(f.nvmlGpmSampleGet(gpu, second)).toBe(0);
      const request = new Uint8Array(GPM_METRICS_GET_SIZE);
      const view = new DataView(request.buffer);
      encodeGpmMetricsGet(view, 0, Number(first), Number(second), [GPM_METRIC.smUtil, 4, GPM_METRIC.dramBwUtil]);
      view.setUint32(0, GPM_METRICS_GET_VERSION + 1, true);
      expect(f.nvmlGpmMetricsGet(ptr(request))).toBe(25); // NVML_ERROR_ARGUMENT_VERSION_MISMATCH
      view.setUint32(0, GPM_METRICS_GET_VERSION, true);
      expect(f.nvmlGpmMetricsGet(ptr(request))).toBe(0);
      // INTEGER_UTIL (4) is not answered by this GPU: its own nvmlReturn says so.
      expect(decodeGpmMetrics(view, 0, 3)).toEqual([35.5, null, 18.5]);
      expect(view.getUint32(24 + 40 + 4, true)).toBe(3); // NOT_SUPPORTED in metrics[1].nvmlReturn
      // The samples in the wrong order mean nothing.
      encodeGpmMetricsGet(view, 0, Number(second), Number(first), [GPM_METRIC.smUtil]);
      expect(f.nvmlGpmMetricsGet(ptr(request))).toBe(2);
      expect(f.nvmlGpmSampleFree(first)).toBe(0);
      expect(f.nvmlGpmSampleFree(second)).toBe(0);
    } finally {
      f.nvmlShutdown();
      library.close();
    }
  });
});
