// GPU readings for tests of the layers above NVML.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GpuSample } from "../../src/collect/sample.ts";
import { Store } from "../../src/store/store.ts";

export function gpuSample(overrides: Partial<GpuSample> = {}): GpuSample {
  return {
    index: 0,
    uuid: "GPU-00000000-0000-0000-0000-000000000000",
    name: "NVIDIA H100 80GB HBM3",
    serial: "1654923000123",
    pciBusId: "00000000:18:00.0",
    memoryTotalBytes: 85520809984,
    memoryUsedBytes: 42949672960,
    memoryFreeBytes: 42017488896,
    memoryReservedBytes: 553648128,
    gpuUtilizationPercent: 87,
    memoryUtilizationPercent: 41,
    temperatureCelsius: 56,
    fanSpeedsPercent: null,
    powerUsageWatts: 512.34,
    powerLimitWatts: 700,
    energyMillijoules: 48213377190,
    graphicsClockMhz: 1980,
    smClockMhz: 1980,
    memoryClockMhz: 2619,
    performanceState: 0,
    clockEventReasons: 0,
    eccEnabled: true,
    eccErrorsCorrected: 3,
    eccErrorsUncorrected: 0,
    encoderUtilizationPercent: 0,
    decoderUtilizationPercent: 14,
    pcieLinkGeneration: 5,
    pcieLinkWidth: 16,
    processes: [],
    fieldErrors: {},
    ...overrides,
  };
}

/** Eight distinct GPUs, each with its own uuid and figures derived from its index. */
export function eightGpus(tick = 0): GpuSample[] {
  return Array.from({ length: 8 }, (_, index) =>
    gpuSample({
      index,
      uuid: `GPU-00000000-0000-0000-0000-00000000000${index}`,
      pciBusId: `00000000:${(0x18 + index).toString(16).toUpperCase()}:00.0`,
      temperatureCelsius: 40 + index + (tick % 5),
      gpuUtilizationPercent: (tick * 7 + index * 13) % 101,
      memoryUsedBytes: 1_000_000_000 + index * 1_000_000 + tick,
      powerUsageWatts: 300 + index + (tick % 100) / 1000,
      energyMillijoules: 1_000_000_000 + tick * 500_000 + index,
    }),
  );
}

export function tempDatabase(): string {
  return join(mkdtempSync(join(tmpdir(), "gpu-monitor-db-")), "gpu_metrics.db");
}

/**
 * Every sample stored in a database file, rows and compacted blocks alike, read
 * as the query commands read them (a closed hour may have moved into a block
 * while a test ran).
 */
export function storedSamples(file: string): Array<{ ts: number; gpu_id: number; uid: string }> {
  const store = Store.open(file, { readonly: true });
  try {
    return [...store.samplesBetween(0, 2 ** 40)].map((row) => ({ ts: row.ts, gpu_id: row.gpu_id, uid: row.uid }));
  } finally {
    store.close();
  }
}
