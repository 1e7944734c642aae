// The document `snapshot` prints: every GPU's metrics in catalog order, then its
// processes and any metric that failed, and the GPUs that could not be read.

import type { ShownValue } from "../metrics/catalog.ts";
import { readingFields } from "../metrics/records.ts";
import { formatUtc } from "../util/time.ts";
import type { GpuSample, HostSummary, Sample } from "./sample.ts";

export interface ProcessRecord {
  pid: number;
  type: "compute" | "graphics";
  name: string | null;
  used_memory: number | null;
  gpu_instance_id: number | null;
  compute_instance_id: number | null;
}

export type GpuRecord = Record<string, ShownValue | ProcessRecord[] | Record<string, string>>;

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

export function gpuRecord(gpu: GpuSample): GpuRecord {
  const record: GpuRecord = Object.fromEntries(readingFields(gpu));
  record.processes =
    gpu.processes?.map((process) => ({
      pid: process.pid,
      type: process.kind,
      name: process.name,
      used_memory: process.usedMemoryBytes,
      gpu_instance_id: process.gpuInstanceId,
      compute_instance_id: process.computeInstanceId,
    })) ?? null;
  if (Object.keys(gpu.fieldErrors).length > 0) record.field_errors = gpu.fieldErrors;
  return record;
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
    errors: sample.failures.map((failure) => ({ index: failure.index, error: failure.code, message: failure.message })),
  };
}
