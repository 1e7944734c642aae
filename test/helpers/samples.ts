// GPU readings for tests of the layers above NVML.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GpuSample } from "../../src/collect/sample.ts";
import { gpuValues, SAMPLE_METRICS, sampleValues } from "../../src/metrics/catalog.ts";
import type { TickGpu } from "../../src/store/samples.ts";
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
    powerUsageMilliwatts: 512340,
    powerLimitMilliwatts: 700000,
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
    pcieTxKilobytesPerSecond: 1200,
    pcieRxKilobytesPerSecond: 3400,
    remappedRowsCorrectable: 0,
    remappedRowsUncorrectable: 0,
    remappedRowsPending: false,
    remappedRowsFailure: false,
    utilizationSamples: 0,
    busyMilliseconds: null,
    migMode: null,
    migModePending: null,
    parentUuid: null,
    gpuInstanceId: null,
    computeInstanceId: null,
    migProfile: null,
    gpm: null,
    processes: [],
    processUtilization: null,
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
      powerUsageMilliwatts: 300_000 + index * 1000 + (tick % 100),
      energyMillijoules: 1_000_000_000 + tick * 500_000 + index,
    }),
  );
}

export function writeTick(store: Store, ts: number, gpus: readonly GpuSample[]): void {
  store.samples.writeTick(ts, tickGpus(gpus));
}

/** Samples in [from, to) as rows naming their stored columns, ordered by time then GPU, with the GPU's uid and total memory. */
export function sampleRows(store: Store, from = 0, to = 2 ** 40): Array<Record<string, number | string | null>> {
  const gpus = store.gpus.all();
  return [...store.samples.spans(from, to)].flatMap((span) =>
    span
      .flatMap((columns) =>
        columns.ts.map((ts, i) => ({
          ts,
          gpu_id: columns.gpuId,
          uid: gpus.get(columns.gpuId)!.identity.uid!,
          memory_total: gpus.get(columns.gpuId)!.identity.memory_total!,
          ...Object.fromEntries(SAMPLE_METRICS.map((metric, c) => [metric.column!, columns.values[c]![i]!])),
        })),
      )
      .sort((a, b) => a.ts - b.ts || a.gpu_id - b.gpu_id),
  );
}

/** A tick's readings in the form the store keeps them. */
export function tickGpus(gpus: readonly GpuSample[]): TickGpu[] {
  return gpus.map((gpu) => ({ identity: gpuValues(gpu), values: sampleValues(gpu) }));
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
    return sampleRows(store).map((row) => ({ ts: row.ts as number, gpu_id: row.gpu_id as number, uid: row.uid as string }));
  } finally {
    store.close();
  }
}
