// What the rest of the program sees of NVML. Upper layers depend on this
// interface, never on bun:ffi; tests of those layers may implement it in TypeScript.

import type { ProcessEntry } from "./structs.ts";

export interface HostInfo {
  driverVersion: string | null;
  nvmlVersion: string | null;
  /** "12.4" */
  cudaDriverVersion: string | null;
}

export type GpuProcess = ProcessEntry;

/** One GPU read at one instant. null means NVML cannot give that metric for this GPU. */
export interface GpuReading {
  index: number;
  uuid: string;
  name: string | null;
  serial: string | null;
  pciBusId: string | null;
  memoryTotalBytes: number | null;
  memoryUsedBytes: number | null;
  memoryFreeBytes: number | null;
  memoryReservedBytes: number | null;
  gpuUtilizationPercent: number | null;
  memoryUtilizationPercent: number | null;
  temperatureCelsius: number | null;
  /** One value per fan, percent of maximum. */
  fanSpeedsPercent: number[] | null;
  powerUsageMilliwatts: number | null;
  powerLimitMilliwatts: number | null;
  energyMillijoules: number | null;
  graphicsClockMhz: number | null;
  smClockMhz: number | null;
  memoryClockMhz: number | null;
  /** 0 (P0, maximum performance) to 15. */
  performanceState: number | null;
  /** nvmlClocksEventReason* bit mask. */
  clockEventReasons: number | null;
  eccEnabled: boolean | null;
  /** Volatile counts (since the driver loaded), only when ECC is enabled. */
  eccErrorsCorrected: number | null;
  eccErrorsUncorrected: number | null;
  encoderUtilizationPercent: number | null;
  decoderUtilizationPercent: number | null;
  pcieLinkGeneration: number | null;
  pcieLinkWidth: number | null;
  /** KB/s over the driver's last 20 ms, as NVML reports it: out of the GPU (TX) and into it (RX). */
  pcieTxKilobytesPerSecond: number | null;
  pcieRxKilobytesPerSecond: number | null;
  processes: GpuProcess[] | null;
  /** Metrics that failed with an unexpected code: field name -> NVML code name. */
  fieldErrors: Record<string, string>;
}

export interface Nvml {
  /** The library file that was loaded. */
  readonly libraryPath: string;
  /** Which symbol serves each versioned function (e.g. memoryInfo -> nvmlDeviceGetMemoryInfo_v2). */
  readonly boundSymbols: Readonly<Record<string, string | null>>;
  /** The driver's version alone: what the agent needs, without host()'s CUDA query. */
  driverVersion(): string | null;
  /**
   * Driver, NVML and CUDA versions. NVML answers the CUDA version by loading
   * libcuda.so.1 into this process and calling cuDriverGetVersion (nvml.h); on an
   * H200 with driver 580.159 that left libcuda mapped (3.7 MB resident) and a
   * thread of its own for good. So the agent never calls this: snapshot and doctor do.
   */
  host(): HostInfo;
  deviceCount(): number;
  /** Reads every metric of one GPU. Throws NvmlError when the GPU as a whole cannot be read. */
  readGpu(index: number): GpuReading;
  /** NVML's view of a process name (nvmlSystemGetProcessName), or null. */
  processName(pid: number): string | null;
  close(): void;
}
