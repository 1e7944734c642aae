// The document `snapshot` prints: every GPU's metrics in catalog order, then its
// processes and any metric that failed, and the GPUs that could not be read.

import type { ShownValue } from "../metrics/catalog.ts";
import { readingFields } from "../metrics/records.ts";
import { formatUtc } from "../util/time.ts";
import type { GpuSample, HostSummary, Sample } from "./sample.ts";

export interface ProcessRecord {
  pid: number;
  type: "compute" | "graphics" | "mps";
  name: string | null;
  used_memory: number | null;
  gpu_instance_id: number | null;
  compute_instance_id: number | null;
  user: string | null;
  uid: number | null;
  container_id: string | null;
  pod_uid: string | null;
  /** Percent since the previous reading; null where the GPU cannot tell. */
  sm_utilization: number | null;
  memory_utilization: number | null;
  encoder_utilization: number | null;
  decoder_utilization: number | null;
  /** Why the owner is unknown (e.g. not in the agent's pid namespace). */
  note: string | null;
}

export type GpuRecord = Record<string, ShownValue | ProcessRecord[] | Record<string, string> | GpuRecord[]>;

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
      user: process.owner?.user ?? null,
      uid: process.owner?.uid ?? null,
      container_id: process.owner?.containerId ?? null,
      pod_uid: process.owner?.podUid ?? null,
      sm_utilization: process.smPercent,
      memory_utilization: process.memoryPercent,
      encoder_utilization: process.encoderPercent,
      decoder_utilization: process.decoderPercent,
      note: process.owner?.note ?? null,
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
    gpus: nestMigDevices(sample.gpus),
    errors: sample.failures.map((failure) => ({ index: failure.index, error: failure.code, message: failure.message })),
  };
}

/** GPUs' records, each GPU in MIG mode with its MIG devices' records as `mig_devices`. */
function nestMigDevices(gpus: readonly GpuSample[]): GpuRecord[] {
  const records: GpuRecord[] = [];
  const parents = new Map<string, GpuRecord[]>();
  for (const gpu of gpus) {
    const nested = gpu.parentUuid === null ? undefined : parents.get(gpu.parentUuid);
    if (nested) {
      nested.push(gpuRecord(gpu));
      continue;
    }
    const record = gpuRecord(gpu);
    if (gpu.migMode) parents.set(gpu.uuid, (record.mig_devices = []) as GpuRecord[]);
    records.push(record);
  }
  return records;
}

