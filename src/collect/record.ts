// The output shape of a GPU reading: the original tool's fields first, in its
// order and units (power in watts), then ours. JSON, CSV and the store use it.

import { clockEventReasonNames } from "../nvml/index.ts";
import { formatUtc } from "../query/time.ts";
import type { GpuFailure, GpuSample, HostSummary, Sample } from "./sample.ts";

export interface ProcessRecord {
  pid: number;
  type: "compute" | "graphics";
  name: string | null;
  used_memory: number | null;
  gpu_instance_id: number | null;
  compute_instance_id: number | null;
}

export interface GpuRecord {
  uid: string;
  pci_bus_id: string | null;
  name: string | null;
  temperature: number | null;
  memory_used: number | null;
  memory_total: number | null;
  gpu_utilization: number | null;
  memory_utilization: number | null;
  power_usage: number | null;
  fan_speed: number | null;
  graphics_clock: number | null;
  memory_clock: number | null;
  index: number;
  serial: string | null;
  memory_free: number | null;
  memory_reserved: number | null;
  fan_speeds: number[] | null;
  power_limit: number | null;
  energy_consumption: number | null;
  sm_clock: number | null;
  performance_state: number | null;
  clock_event_reasons: number | null;
  clock_event_reason_names: string[] | null;
  ecc_enabled: boolean | null;
  ecc_errors_corrected: number | null;
  ecc_errors_uncorrected: number | null;
  encoder_utilization: number | null;
  decoder_utilization: number | null;
  pcie_link_generation: number | null;
  pcie_link_width: number | null;
  processes: ProcessRecord[] | null;
  field_errors?: Record<string, string>;
}

/** One figure for all fans, as a whole percent: their mean (a single fan's own speed). */
export function fanSummary(speeds: readonly number[] | null): number | null {
  if (!speeds || speeds.length === 0) return null;
  return Math.round(speeds.reduce((sum, speed) => sum + speed, 0) / speeds.length);
}

export function gpuRecord(gpu: GpuSample): GpuRecord {
  const record: GpuRecord = {
    uid: gpu.uuid,
    pci_bus_id: gpu.pciBusId,
    name: gpu.name,
    temperature: gpu.temperatureCelsius,
    memory_used: gpu.memoryUsedBytes,
    memory_total: gpu.memoryTotalBytes,
    gpu_utilization: gpu.gpuUtilizationPercent,
    memory_utilization: gpu.memoryUtilizationPercent,
    power_usage: gpu.powerUsageWatts,
    fan_speed: fanSummary(gpu.fanSpeedsPercent),
    graphics_clock: gpu.graphicsClockMhz,
    memory_clock: gpu.memoryClockMhz,
    index: gpu.index,
    serial: gpu.serial,
    memory_free: gpu.memoryFreeBytes,
    memory_reserved: gpu.memoryReservedBytes,
    fan_speeds: gpu.fanSpeedsPercent,
    power_limit: gpu.powerLimitWatts,
    energy_consumption: gpu.energyMillijoules,
    sm_clock: gpu.smClockMhz,
    performance_state: gpu.performanceState,
    clock_event_reasons: gpu.clockEventReasons,
    clock_event_reason_names: gpu.clockEventReasons === null ? null : clockEventReasonNames(gpu.clockEventReasons),
    ecc_enabled: gpu.eccEnabled,
    ecc_errors_corrected: gpu.eccErrorsCorrected,
    ecc_errors_uncorrected: gpu.eccErrorsUncorrected,
    encoder_utilization: gpu.encoderUtilizationPercent,
    decoder_utilization: gpu.decoderUtilizationPercent,
    pcie_link_generation: gpu.pcieLinkGeneration,
    pcie_link_width: gpu.pcieLinkWidth,
    processes:
      gpu.processes?.map((process) => ({
        pid: process.pid,
        type: process.kind,
        name: process.name,
        used_memory: process.usedMemoryBytes,
        gpu_instance_id: process.gpuInstanceId,
        compute_instance_id: process.computeInstanceId,
      })) ?? null,
  };
  if (Object.keys(gpu.fieldErrors).length > 0) record.field_errors = gpu.fieldErrors;
  return record;
}

export interface SnapshotDocument {
  timestamp: string;
  host: {
    hostname: string;
    driver_version: string | null;
    nvml_version: string | null;
    cuda_driver_version: string | null;
    nvml_library: string;
    gpu_count: number;
  };
  gpus: GpuRecord[];
  errors: Array<{ index: number; error: string; message: string }>;
}

export function snapshotDocument(sample: Sample, host: HostSummary, hostname: string): SnapshotDocument {
  return {
    timestamp: formatUtc(Math.floor(sample.takenAt.getTime() / 1000)),
    host: {
      hostname,
      driver_version: host.driverVersion,
      nvml_version: host.nvmlVersion,
      cuda_driver_version: host.cudaDriverVersion,
      nvml_library: host.nvmlLibrary,
      gpu_count: host.gpuCount,
    },
    gpus: sample.gpus.map(gpuRecord),
    errors: sample.failures.map(failureRecord),
  };
}

function failureRecord(failure: GpuFailure) {
  return { index: failure.index, error: failure.code, message: failure.message };
}
