// What the rest of the program sees of NVML. Upper layers depend on this
// interface, never on bun:ffi; tests of those layers may implement it in TypeScript.

import type { ProcessEntry, ProcessUtilization } from "./structs.ts";

export interface HostInfo {
  driverVersion: string | null;
  nvmlVersion: string | null;
  /** "12.4" */
  cudaDriverVersion: string | null;
}

export type GpuProcess = ProcessEntry;
export type { ProcessUtilization };

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
  /** Rows remapped for correctable and uncorrectable errors, a remapping pending (needs a reset), a remapping failed (nvmlDeviceGetRemappedRows). */
  remappedRowsCorrectable: number | null;
  remappedRowsUncorrectable: number | null;
  remappedRowsPending: boolean | null;
  remappedRowsFailure: boolean | null;
  /**
   * How gpu/memory utilization and power were obtained: the number of the driver's
   * samples they average (0: a reading of this instant), and the time within the
   * interval that GPU utilization was above zero (null: only the instant is known).
   * The binding reads instants; the session fills these from the driver's buffers.
   */
  utilizationSamples: number;
  busyMilliseconds: number | null;
  processes: GpuProcess[] | null;
  /** MIG mode of a GPU now and after its next reset; null where the GPU (or driver) has no MIG, and on a MIG device. */
  migMode: boolean | null;
  migModePending: boolean | null;
  /**
   * A MIG device (a slice of a GPU in MIG mode) is read as a device of its own:
   * its GPU's uuid, its GPU and compute instance, and its profile ("1g.10gb").
   * All null on a GPU.
   */
  parentUuid: string | null;
  gpuInstanceId: number | null;
  computeInstanceId: number | null;
  migProfile: string | null;
  /**
   * GPM activity (Hopper and later) between this reading's GPM sample and the one
   * before it, percent: of the GPU, or on a MIG device of its GPU instance. null
   * where GPM is not supported and at the first reading (nothing to compare with).
   */
  gpm: GpmActivity | null;
  /**
   * Per-process utilization since the previous read of this GPU (nvmlDeviceGetProcessUtilization):
   * a process running but absent here used nothing; null when the GPU cannot tell (unsupported, MIG, refused).
   */
  processUtilization: ProcessUtilization[] | null;
  /** Metrics that failed with an unexpected code: field name -> NVML code name. */
  fieldErrors: Record<string, string>;
}

/** GPM metrics over the span between two GPM samples; each null where NVML did not give it. */
export interface GpmActivity {
  /** Milliseconds between the two samples (monotonic clock). */
  spanMs: number;
  smActivityPercent: number | null;
  smOccupancyPercent: number | null;
  tensorActivityPercent: number | null;
  dramActivityPercent: number | null;
  graphicsActivityPercent: number | null;
}

/** The driver's sample buffers that nvmlDeviceGetSamples reads. */
export type SampleKind = "power" | "gpu_utilization" | "memory_utilization";

/** Samples newer than asked for, oldest first; the arrays are reused by the next read of that GPU. */
export interface DriverSamples {
  count: number;
  /** CPU time of each sample, microseconds since the epoch. */
  timestampsUs: Float64Array;
  /** mW for power, percent for utilization. */
  values: Float64Array;
}

/** Something the driver reported about a GPU (nvmlEventSetWait). */
export interface DeviceEvent {
  /** null when the event names a device this session has not opened. */
  index: number | null;
  uuid: string | null;
  kind: "xid" | "single_bit_ecc" | "double_bit_ecc" | "gpu_unavailable";
  /** The XID for an XID event; null otherwise. */
  code: number | null;
}

export interface Nvml {
  /** The library file that was loaded. */
  readonly libraryPath: string;
  /** Which symbol serves each versioned function (e.g. memoryInfo -> nvmlDeviceGetMemoryInfo_v2). */
  readonly boundSymbols: Readonly<Record<string, string | null>>;
  /** The driver's version alone: what the agent needs, without host()'s CUDA query. */
  driverVersion(): string | null;
  /** The NVML library's version alone, likewise (for the agent's build info). */
  nvmlVersion?(): string | null;
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
  /**
   * The MIG devices of a GPU whose last reading had MIG on, enumerated afresh at
   * every call (a changed layout shows at once), each a reading of its own. Empty
   * when MIG is off or the driver has no MIG.
   */
  readMigDevices?(index: number): GpuReading[];
  /** Whether the GPU has GPM (activity counters); null when the driver cannot say. */
  gpmSupported?(index: number): boolean | null;
  /** How many samples of this kind the driver keeps for this GPU; null when it keeps none (unsupported). */
  sampleBufferLength?(index: number, kind: SampleKind): number | null;
  /** The driver's samples newer than `afterUs`; null when this GPU or driver keeps none. */
  readSamples?(index: number, kind: SampleKind, afterUs: number): DriverSamples | null;
  /** Starts listening for XID, ECC and GPU-unavailable events on the GPUs read from now on; false when the driver offers none. */
  watchEvents?(): boolean;
  /** The events that arrived since the last call, without waiting. */
  takeEvents?(): DeviceEvent[];
  /** NVML's view of a process name (nvmlSystemGetProcessName), or null. */
  processName(pid: number): string | null;
  close(): void;
}
