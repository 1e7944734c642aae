// The binding through bun:ffi against the fake libnvidia-ml (real NVML ABI),
// one scenario per GPU model or driver situation.

import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NvmlError, NvmlUnavailableError, openNvml } from "../../src/nvml/index.ts";
import { fakeNvmlSessions, scenarioFile, useScenarioInProcess, writeScenario } from "../helpers/fakeNvml.ts";

/** Opens a scenario (by name or path); closed again after each test. */
const nvmlFor = fakeNvmlSessions();

const GiB = 1024 ** 3;

describe("GeForce RTX 4090 on a current driver", () => {
  test("binds the newest symbols", () => {
    const nvml = nvmlFor("rtx4090");
    expect(nvml.boundSymbols).toMatchObject({
      init: "nvmlInit_v2",
      deviceCount: "nvmlDeviceGetCount_v2",
      handleByIndex: "nvmlDeviceGetHandleByIndex_v2",
      pciInfo: "nvmlDeviceGetPciInfo_v3",
      memoryInfo: "nvmlDeviceGetMemoryInfo_v2",
      fanSpeedOfFan: "nvmlDeviceGetFanSpeed_v2",
      clockEventReasons: "nvmlDeviceGetCurrentClocksEventReasons",
      totalEnergy: "nvmlDeviceGetTotalEnergyConsumption",
      computeProcesses: "nvmlDeviceGetComputeRunningProcesses_v3",
      graphicsProcesses: "nvmlDeviceGetGraphicsRunningProcesses_v3",
      cudaDriverVersion: "nvmlSystemGetCudaDriverVersion_v2",
    });
  });

  test("reads every field with its unit; the serial and ECC are not supported", () => {
    const nvml = nvmlFor("rtx4090");
    expect(nvml.host()).toEqual({ driverVersion: "550.67", nvmlVersion: "12.550.67", cudaDriverVersion: "12.4" });
    expect(nvml.deviceCount()).toBe(1);
    const gpu = nvml.readGpu(0);
    expect(gpu).toEqual({
      index: 0,
      uuid: "GPU-5f8a1c2e-7b3d-4e9f-a6c1-2d8e0b4f7a93",
      name: "NVIDIA GeForce RTX 4090",
      serial: null,
      pciBusId: "00000000:01:00.0",
      memoryTotalBytes: 25757220864,
      memoryUsedBytes: 1207959552,
      memoryReservedBytes: 362807296,
      memoryFreeBytes: 25757220864 - 362807296 - 1207959552,
      gpuUtilizationPercent: 37,
      memoryUtilizationPercent: 12,
      temperatureCelsius: 48,
      fanSpeedsPercent: [30, 32],
      powerUsageMilliwatts: 121350,
      powerLimitMilliwatts: 450000,
      energyMillijoules: 9876543210,
      graphicsClockMhz: 2520,
      smClockMhz: 2520,
      memoryClockMhz: 10501,
      performanceState: 2,
      clockEventReasons: 0,
      eccEnabled: null,
      eccErrorsCorrected: null,
      eccErrorsUncorrected: null,
      encoderUtilizationPercent: 0,
      decoderUtilizationPercent: 0,
      pcieLinkGeneration: 4,
      pcieLinkWidth: 16,
      pcieTxKilobytesPerSecond: 2150,
      pcieRxKilobytesPerSecond: 481230,
      remappedRowsCorrectable: null,
      remappedRowsUncorrectable: null,
      remappedRowsPending: null,
      remappedRowsFailure: null,
      utilizationSamples: 0,
      busyMilliseconds: null,
      migMode: null,
      migModePending: null,
      parentUuid: null,
      gpuInstanceId: null,
      computeInstanceId: null,
      migProfile: null,
      gpm: null,
      processes: [
        { kind: "compute", pid: 45122, usedMemoryBytes: 939524096, gpuInstanceId: null, computeInstanceId: null },
        { kind: "graphics", pid: 1873, usedMemoryBytes: 268435456, gpuInstanceId: null, computeInstanceId: null },
      ],
      processUtilization: [],
      fieldErrors: {},
    });
  });

  test("a second read reuses the device and gives the same figures", () => {
    const nvml = nvmlFor("rtx4090");
    const first = nvml.readGpu(0);
    const second = nvml.readGpu(0);
    expect(second).toEqual(first);
  });

  test("NVML's process name lookup", () => {
    const nvml = nvmlFor("rtx4090");
    expect(nvml.processName(45122)).toBe("fake-proc-45122");
    expect(nvml.processName(12)).toBeNull();
  });
});

describe("H100", () => {
  test("no fans (NOT_SUPPORTED is null, not an error), ECC counts, decoder load", () => {
    const gpu = nvmlFor("h100").readGpu(0);
    expect(gpu.fanSpeedsPercent).toBeNull();
    expect(gpu.serial).toBe("1654923000123");
    expect(gpu.pciBusId).toBe("00000000:18:00.0");
    expect(gpu.eccEnabled).toBe(true);
    expect(gpu.eccErrorsCorrected).toBe(3);
    expect(gpu.eccErrorsUncorrected).toBe(0);
    expect(gpu.decoderUtilizationPercent).toBe(14);
    // nvmlDeviceGetPcieThroughput with NVML_PCIE_UTIL_TX_BYTES (0) and NVML_PCIE_UTIL_RX_BYTES (1), in KB/s.
    expect([gpu.pcieTxKilobytesPerSecond, gpu.pcieRxKilobytesPerSecond]).toEqual([1200, 3400]);
    expect(gpu.powerUsageMilliwatts).toBe(512340);
    expect(gpu.powerLimitMilliwatts).toBe(700000);
    expect(gpu.energyMillijoules).toBe(48213377190);
    expect(gpu.memoryTotalBytes).toBe(85520809984);
    expect(gpu.memoryUsedBytes).toBe(40 * GiB);
    expect(gpu.processes).toEqual([
      { kind: "compute", pid: 51234, usedMemoryBytes: 32 * GiB, gpuInstanceId: null, computeInstanceId: null },
      { kind: "compute", pid: 51240, usedMemoryBytes: 8 * GiB, gpuInstanceId: null, computeInstanceId: null },
    ]);
    expect(gpu.fieldErrors).toEqual({});
  });
});

describe("eight GPUs", () => {
  test("each is read with its own identity and figures", () => {
    const nvml = nvmlFor("eight_gpus");
    expect(nvml.deviceCount()).toBe(8);
    const gpus = Array.from({ length: 8 }, (_, i) => nvml.readGpu(i));
    expect(new Set(gpus.map((g) => g.uuid)).size).toBe(8);
    expect(gpus.map((g) => g.pciBusId)).toEqual(
      ["18", "2A", "3A", "5D", "9A", "AB", "BA", "DB"].map((bus) => `00000000:${bus}:00.0`),
    );
    expect(gpus.map((g) => g.gpuUtilizationPercent)).toEqual([97, 95, 12, 88, 100, 73, 0, 91]);
    expect(gpus.map((g) => g.temperatureCelsius)).toEqual([41, 43, 39, 46, 52, 48, 44, 50]);
    expect(gpus[6]!.clockEventReasons).toBe(1);
    expect(gpus.every((g) => g.processes?.length === 2)).toBe(true);
  });
});

describe("a 470-era driver without the newer symbols", () => {
  test("falls back to the plain symbols", () => {
    const nvml = nvmlFor("old_driver", "old");
    expect(nvml.boundSymbols).toMatchObject({
      init: "nvmlInit",
      deviceCount: "nvmlDeviceGetCount",
      handleByIndex: "nvmlDeviceGetHandleByIndex",
      pciInfo: "nvmlDeviceGetPciInfo",
      memoryInfo: "nvmlDeviceGetMemoryInfo",
      fanSpeedOfFan: null,
      numFans: null,
      fanSpeed: "nvmlDeviceGetFanSpeed",
      clockEventReasons: "nvmlDeviceGetCurrentClocksThrottleReasons",
      totalEnergy: null,
      computeProcesses: "nvmlDeviceGetComputeRunningProcesses",
      cudaDriverVersion: "nvmlSystemGetCudaDriverVersion",
    });
  });

  test("reads what it can and gives null for what it cannot", () => {
    const nvml = nvmlFor("old_driver", "old");
    expect(nvml.host()).toEqual({
      driverVersion: "470.182.03",
      nvmlVersion: "11.470.182.03",
      cudaDriverVersion: "11.4",
    });
    expect(nvml.deviceCount()).toBe(2);
    const gpu = nvml.readGpu(0);
    expect(gpu.uuid).toBe("GPU-2b7e4f10-8c3a-5d6e-9f01-a2b3c4d5e6f7");
    expect(gpu.pciBusId).toBe("00000000:1A:00.0"); // rebuilt from the legacy struct
    expect(gpu.memoryTotalBytes).toBe(34089730048);
    expect(gpu.memoryUsedBytes).toBe(3221225472);
    expect(gpu.memoryReservedBytes).toBeNull(); // only _v2 reports it
    expect(gpu.energyMillijoules).toBeNull(); // no nvmlDeviceGetTotalEnergyConsumption
    expect(gpu.clockEventReasons).toBe(0);
    expect(gpu.fanSpeedsPercent).toBeNull();
    expect(gpu.powerUsageMilliwatts).toBe(187420);
    expect(gpu.processes).toEqual([
      { kind: "compute", pid: 20811, usedMemoryBytes: 3145728000, gpuInstanceId: null, computeInstanceId: null },
    ]);
    expect(gpu.fieldErrors).toEqual({});
    expect(nvml.readGpu(1).clockEventReasons).toBe(1);
  });

  test("the single-fan call gives the first fan when per-fan calls are missing", () => {
    expect(nvmlFor("rtx4090", "old").readGpu(0).fanSpeedsPercent).toEqual([30]);
  });
});

describe("failures", () => {
  test("a lost GPU fails alone, with NVML's name for it", () => {
    const nvml = nvmlFor("gpu_lost");
    expect(nvml.deviceCount()).toBe(3);
    expect(nvml.readGpu(0).temperatureCelsius).toBe(41);
    expect(() => nvml.readGpu(1)).toThrow(NvmlError);
    try {
      nvml.readGpu(1);
    } catch (error) {
      expect((error as NvmlError).codeName).toBe("NVML_ERROR_GPU_IS_LOST");
      expect((error as NvmlError).message).toContain("GPU 1");
    }
    expect(nvml.readGpu(2).temperatureCelsius).toBe(39);
  });

  test("no permission on one GPU's handle fails that GPU; a forbidden serial is just null", () => {
    const nvml = nvmlFor("no_permission");
    expect(nvml.readGpu(0).serial).toBe("1325023045678");
    try {
      nvml.readGpu(1);
      throw new Error("GPU 1 should not be readable");
    } catch (error) {
      expect((error as NvmlError).codeName).toBe("NVML_ERROR_NO_PERMISSION");
    }
    const third = nvml.readGpu(2);
    expect(third.serial).toBeNull();
    expect(third.memoryTotalBytes).toBe(48305799168);
    expect(third.fieldErrors).toEqual({});
  });

  test("a driver that is not loaded makes NVML unavailable", () => {
    expect(() => nvmlFor("driver_not_loaded")).toThrow(NvmlUnavailableError);
    try {
      nvmlFor("driver_not_loaded");
    } catch (error) {
      expect((error as Error).message).toContain("the NVIDIA driver is not loaded");
      expect((error as Error).message).toContain("NVML_ERROR_DRIVER_NOT_LOADED from nvmlInit_v2");
    }
  });

  test("an unexpected error on one metric nulls that metric and is recorded", () => {
    const gpu = nvmlFor(
      writeScenario("gpu0.temperature = !UNKNOWN\ngpu0.pcie.gen = !INVALID_ARGUMENT\ngpu0.pcie.tx_throughput = !UNKNOWN\ngpu0.pcie.rx_throughput = !NOT_SUPPORTED\n"),
    ).readGpu(0);
    expect(gpu.temperatureCelsius).toBeNull();
    expect(gpu.pcieLinkGeneration).toBeNull();
    expect(gpu.pcieTxKilobytesPerSecond).toBeNull();
    expect(gpu.pcieRxKilobytesPerSecond).toBeNull(); // not supported: absent, not an error
    expect(gpu.fieldErrors).toEqual({
      temperature: "NVML_ERROR_UNKNOWN",
      pcie_link_generation: "NVML_ERROR_INVALID_ARGUMENT",
      pcie_tx_throughput: "NVML_ERROR_UNKNOWN",
    });
    expect(gpu.powerUsageMilliwatts).toBe(50000);
  });

  test("a library file that does not exist", () => {
    useScenarioInProcess(scenarioFile("rtx4090"));
    expect(() => openNvml({ libraryPath: "/nonexistent/libnvidia-ml.so.1" })).toThrow(
      "Tried: /nonexistent/libnvidia-ml.so.1 (no such file)",
    );
  });

  test("a library that is not NVML", () => {
    const notNvml = Bun.spawnSync(["sh", "-c", "ldconfig -p | grep -m1 'libz.so.1 ' | sed 's/.*=> //'"])
      .stdout.toString()
      .trim();
    expect(notNvml).not.toBe("");
    expect(() => openNvml({ libraryPath: notNvml })).toThrow(NvmlUnavailableError);
  });
});

describe("process lists", () => {
  test("a list that grows between calls is re-read until it fits", () => {
    const pids = Array.from({ length: 70 }, (_, i) => `${10000 + i}:1048576`).join(",");
    const nvml = nvmlFor(
      writeScenario(`gpu0.processes.compute = ${pids}\ngpu0.processes.grow_by = 60\ngpu0.processes.grow_times = 3\n`),
    );
    const processes = nvml.readGpu(0).processes!;
    // 70 did not fit 64 entries, 130 did not fit 128, then 190 fit 256.
    expect(processes).toHaveLength(190);
    expect(processes[0]!.pid).toBe(10000);
    expect(processes[189]!.pid).toBe(900000 + 119);
    expect(new Set(processes.map((p) => p.pid)).size).toBe(190);
  });

  test("the stock growth scenario: each read sees the list as it is then", () => {
    const nvml = nvmlFor("process_growth");
    expect(nvml.readGpu(0).processes!.map((p) => p.pid)).toEqual([31001, 31002, 31003]);
    expect(nvml.readGpu(0).processes!.map((p) => p.pid)).toEqual([31001, 31002, 31003, 900000, 900001]);
  });

  test("drivers 535.43-535.86 write 32-byte _v3 entries; every entry still decodes", () => {
    expect(nvmlFor("driver_535_43").readGpu(0).processes).toEqual([
      { kind: "compute", pid: 40211, usedMemoryBytes: 10 * GiB, gpuInstanceId: null, computeInstanceId: null },
      { kind: "compute", pid: 40212, usedMemoryBytes: 6 * GiB, gpuInstanceId: null, computeInstanceId: null },
      { kind: "compute", pid: 40213, usedMemoryBytes: 5 * GiB, gpuInstanceId: null, computeInstanceId: null },
    ]);
  });

  test("32-byte entries from a driver outside the known range are recognised", () => {
    const nvml = nvmlFor(
      writeScenario("driver_version = 999.1\ngpu0.processes.compute = 501:100:1:0, 502:200:2:0\ngpu0.processes.entry_size = 32\n"),
    );
    expect(nvml.readGpu(0).processes!.map((p) => [p.pid, p.usedMemoryBytes, p.gpuInstanceId])).toEqual([
      [501, 100, 1],
      [502, 200, 2],
    ]);
  });

  test("memory the driver cannot attribute is null", () => {
    const nvml = nvmlFor(writeScenario("gpu0.processes.compute = 777:NA\n"));
    expect(nvml.readGpu(0).processes).toEqual([
      { kind: "compute", pid: 777, usedMemoryBytes: null, gpuInstanceId: null, computeInstanceId: null },
    ]);
  });
});

describe("who uses the GPU: process lists over time and per-process utilization", () => {
  const nowS = () => Math.floor(Date.now() / 1000);

  test("processes come and go with the wall clock, and a pid can come back", () => {
    const t = nowS();
    const nvml = nvmlFor(
      writeScenario(
        `gpu0.processes.compute = 100:1@${t - 10}-${t + 600}, 200:2@${t + 600}-, 300:3@-${t - 5}, 300:4@${t - 1}-${t + 600}\n`,
      ),
    );
    // 100 runs now, 200 not yet, the first 300 has ended and the second (same pid) runs.
    expect(nvml.readGpu(0).processes!.map((p) => [p.pid, p.usedMemoryBytes])).toEqual([
      [100, 1],
      [300, 4],
    ]);
  });

  test("per-process utilization: one average per pid for the processes running on that GPU", () => {
    const nvml = nvmlFor(
      writeScenario(
        [
          "gpu0.processes.compute = 11:100, 12:200, 13:300",
          "gpu0.processes.utilization = 11:75:20:0:0, 12:5:1:3:4, 99:50:50:50:50",
          "gpu1.processes.compute = 21:100",
        ].join("\n"),
      ),
    );
    const gpu = nvml.readGpu(0);
    expect(gpu.processUtilization).toEqual([
      { pid: 11, smPercent: 75, memoryPercent: 20, encoderPercent: 0, decoderPercent: 0 },
      { pid: 12, smPercent: 5, memoryPercent: 1, encoderPercent: 3, decoderPercent: 4 },
    ]);
    // No process of GPU 1 used it: supported, and empty (NOT_FOUND), not null.
    expect(nvml.readGpu(1).processUtilization).toEqual([]);
  });

  test("more processes than the first buffer holds: INSUFFICIENT_SIZE, then all of them", () => {
    const pids = Array.from({ length: 100 }, (_, i) => 5000 + i);
    const nvml = nvmlFor(
      writeScenario(
        `gpu0.processes.compute = ${pids.map((pid) => `${pid}:1`).join(",")}\ngpu0.processes.utilization = ${pids.map((pid) => `${pid}:${pid % 100}:0:0:0`).join(",")}\n`,
      ),
    );
    const utilization = nvml.readGpu(0).processUtilization!;
    expect(utilization.map((u) => u.pid)).toEqual(pids);
    expect(utilization[42]!.smPercent).toBe(42);
  });

  test("a GPU without per-process utilization gives null, and is not asked again", () => {
    const nvml = nvmlFor(writeScenario("gpu0.processes.compute = 11:100\ngpu0.processes.utilization = !NOT_SUPPORTED\n"));
    expect(nvml.readGpu(0).processUtilization).toBeNull();
    expect(nvml.readGpu(0).processUtilization).toBeNull();
    expect(nvml.readGpu(0).fieldErrors).toEqual({});
  });

  test("a refused process list is no list, with the reason, never an empty one", () => {
    const gpu = nvmlFor(writeScenario("gpu0.processes.compute = 11:100\ngpu0.processes = !NO_PERMISSION\n")).readGpu(0);
    expect(gpu.processes).toBeNull();
    expect(gpu.processUtilization).toBeNull();
    expect(gpu.fieldErrors).toEqual({
      compute_processes: "NVML_ERROR_NO_PERMISSION",
      graphics_processes: "NVML_ERROR_NO_PERMISSION",
      mps_processes: "NVML_ERROR_NO_PERMISSION",
    });
  });

  test("MPS clients are listed beside compute and graphics processes, with type mps; a driver without the MPS call lists the rest", () => {
    const scenario = writeScenario("gpu0.processes.compute = 11:100\ngpu0.processes.graphics = 12:200\ngpu0.processes.mps = 21:300, 22:400\n");
    const nvml = nvmlFor(scenario);
    expect(nvml.boundSymbols).toMatchObject({ mpsProcesses: "nvmlDeviceGetMPSComputeRunningProcesses_v3" });
    expect(nvml.readGpu(0).processes?.map((p) => [p.kind, p.pid, p.usedMemoryBytes])).toEqual([
      ["compute", 11, 100],
      ["graphics", 12, 200],
      ["mps", 21, 300],
      ["mps", 22, 400],
    ]);
    const old = nvmlFor(scenario, "old");
    expect(old.boundSymbols).toMatchObject({ mpsProcesses: null });
    expect(old.readGpu(0).processes?.map((p) => [p.kind, p.pid])).toEqual([
      ["compute", 11],
      ["graphics", 12],
    ]);
    expect(old.readGpu(0).fieldErrors).toEqual({});
  });

  test("MPS: _v3 refuses, _v2 answers (24-byte entries with instance ids)", () => {
    const nvml = nvmlFor(writeScenario("gpu0.processes.mps = 31:500:1:0\ngpu0.symbol.nvmlDeviceGetMPSComputeRunningProcesses_v3 = !ARGUMENT_VERSION_MISMATCH\n"));
    expect(nvml.readGpu(0).processes).toEqual([{ kind: "mps", pid: 31, usedMemoryBytes: 500, gpuInstanceId: 1, computeInstanceId: 0 }]);
  });
});

describe("a newer symbol that exists but will not answer", () => {
  test("memory: _v2 refuses, the plain call answers (used then includes the reservation)", () => {
    const gpu = nvmlFor(
      writeScenario(
        "gpu0.memory.total = 1000\ngpu0.memory.reserved = 10\ngpu0.memory.used = 100\ngpu0.symbol.nvmlDeviceGetMemoryInfo_v2 = !FUNCTION_NOT_FOUND\n",
      ),
    ).readGpu(0);
    expect([gpu.memoryTotalBytes, gpu.memoryUsedBytes, gpu.memoryReservedBytes, gpu.memoryFreeBytes]).toEqual([1000, 110, null, 890]);
    expect(gpu.fieldErrors).toEqual({});
  });

  test("clock events, processes and PCI fall back to the older symbol", () => {
    const nvml = nvmlFor(
      writeScenario(
        [
          "gpu0.clock_event_reasons = 0x4",
          "gpu0.symbol.nvmlDeviceGetCurrentClocksEventReasons = !NOT_SUPPORTED",
          "gpu0.processes.compute = 11:100, 12:200",
          "gpu0.symbol.nvmlDeviceGetComputeRunningProcesses_v3 = !ARGUMENT_VERSION_MISMATCH",
          "gpu0.pci.bus = 0x65",
          "gpu0.symbol.nvmlDeviceGetPciInfo_v3 = !NOT_SUPPORTED",
        ].join("\n"),
      ),
    );
    const gpu = nvml.readGpu(0);
    expect(gpu.clockEventReasons).toBe(4);
    expect(gpu.processes!.map((p) => [p.pid, p.usedMemoryBytes])).toEqual([
      [11, 100],
      [12, 200],
    ]);
    expect(gpu.pciBusId).toBe("00000000:65:00.0");
    expect(gpu.fieldErrors).toEqual({});
    expect(nvml.readGpu(0).clockEventReasons).toBe(4); // the choice sticks
  });

  test("a fan that will not answer per fan: the single-fan call gives the figure", () => {
    const gpu = nvmlFor(writeScenario("gpu0.fan.speeds = 41,43\ngpu0.symbol.nvmlDeviceGetFanSpeed_v2 = !NOT_SUPPORTED\n")).readGpu(0);
    expect(gpu.fanSpeedsPercent).toEqual([41]);
    expect(gpu.fieldErrors).toEqual({});
  });
});

describe("robustness", () => {
  test("a 535 driver that writes 24-byte entries is decoded from the bytes, not the version", () => {
    const gpu = nvmlFor(
      writeScenario("driver_version = 535.54.03\ngpu0.processes.compute = 1000:1048576, 1001:2097152, 1002:4194304\n"),
    ).readGpu(0);
    expect(gpu.processes!.map((p) => p.pid)).toEqual([1000, 1001, 1002]);
  });

  test("ECC counts are read even when the mode query fails", () => {
    const gpu = nvmlFor(writeScenario("gpu0.ecc.current = !UNKNOWN\ngpu0.ecc.corrected.volatile = 7\n")).readGpu(0);
    expect(gpu.eccEnabled).toBeNull();
    expect(gpu.eccErrorsCorrected).toBe(7);
    expect(gpu.fieldErrors).toEqual({ ecc_mode: "NVML_ERROR_UNKNOWN" });
  });

  test("the management limit stands in for an enforced limit that errs, without a stale error", () => {
    const gpu = nvmlFor(writeScenario("gpu0.power.enforced_limit = !UNKNOWN\ngpu0.power.limit = 350000\n")).readGpu(0);
    expect(gpu.powerLimitMilliwatts).toBe(350000);
    expect(gpu.fieldErrors).toEqual({});
  });

  test("a process list read twice does not repeat stale entries", () => {
    const nvml = nvmlFor(writeScenario("gpu0.processes.compute = 5:1, 6:2, 7:3\n"));
    expect(nvml.readGpu(0).processes).toHaveLength(3);
    expect(nvml.readGpu(0).processes).toHaveLength(3);
  });

  test("calls after close fail with a message instead of crashing", () => {
    const nvml = nvmlFor("rtx4090");
    nvml.close(); // closing twice (here, then after the test) is allowed
    expect(() => nvml.deviceCount()).toThrow("NVML was already shut down");
    expect(() => nvml.readGpu(0)).toThrow(NvmlUnavailableError);
  });
});


describe("the CUDA version, which real NVML answers by loading libcuda", () => {
  test("only host() asks for it: driverVersion() and reading GPUs with processes do not", () => {
    const marker = join(mkdtempSync(join(tmpdir(), "cuda-marker-")), "asked");
    const eightGpus = readFileSync(scenarioFile("eight_gpus"), "utf8");
    const nvml = nvmlFor(writeScenario(`${eightGpus}\ncuda_driver_version_marker = ${marker}\n`));
    expect(nvml.driverVersion()).toBe("550.54.15");
    for (let index = 0; index < nvml.deviceCount(); index++) expect(nvml.readGpu(index).processes).not.toBeNull();
    expect(existsSync(marker)).toBe(false);
    expect(nvml.host().cudaDriverVersion).toBe("12.4");
    expect(readFileSync(marker, "utf8")).toContain("nvmlSystemGetCudaDriverVersion");
  });
});
