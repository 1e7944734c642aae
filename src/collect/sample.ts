// One reading of every GPU: what `snapshot` prints and what the agent stores.
// A GPU that cannot be read is reported as a failure; the others are still read.

import { NvmlError, type GpuProcess, type GpuReading, type Nvml } from "../nvml/index.ts";
import type { ProcessNameCache } from "./processNames.ts";

export interface HostSummary {
  driverVersion: string | null;
  nvmlVersion: string | null;
  cudaDriverVersion: string | null;
  nvmlLibrary: string;
  gpuCount: number;
}

export interface GpuFailure {
  index: number;
  /** NVML's code name, e.g. NVML_ERROR_GPU_IS_LOST (several, comma-separated, for an unreadable GPU). */
  code: string;
  message: string;
  /** The GPU answered, but with errors for every usage metric: what it did answer (its identity). */
  unreadable?: GpuReading;
}

export interface NamedProcess extends GpuProcess {
  name: string | null;
}

export interface GpuSample extends Omit<GpuReading, "processes"> {
  processes: NamedProcess[] | null;
}

export interface Sample {
  takenAt: Date;
  gpuCount: number;
  gpus: GpuSample[];
  failures: GpuFailure[];
}

export function takeSample(nvml: Nvml, names: ProcessNameCache, now: () => Date = () => new Date()): Sample {
  const takenAt = now();
  const count = nvml.deviceCount();
  const gpus: GpuSample[] = [];
  const failures: GpuFailure[] = [];
  const pidsSeen = new Set<number>();
  for (let index = 0; index < count; index++) {
    try {
      const reading = nvml.readGpu(index);
      const unreadable = unreadableReason(reading);
      if (unreadable) {
        failures.push(unreadable);
        continue;
      }
      const processes =
        reading.processes?.map((process) => {
          pidsSeen.add(process.pid);
          return { ...process, name: names.name(process.pid) };
        }) ?? null;
      gpus.push({ ...reading, processes });
    } catch (error) {
      if (!(error instanceof NvmlError)) throw error;
      failures.push({ index, code: error.codeName, message: error.message });
    }
  }
  names.retainOnly(pidsSeen);
  return { takenAt, gpuCount: count, gpus, failures };
}

/**
 * A reading in which no usage metric (utilization, memory used, power) could be
 * read because NVML answered errors is not a sample: the GPU is unreadable, as a
 * GPU-level failure would make it. Metrics the GPU simply does not support are
 * not errors.
 */
export function unreadableReason(reading: GpuReading): GpuFailure | null {
  const usage = [reading.gpuUtilizationPercent, reading.memoryUtilizationPercent, reading.memoryUsedBytes, reading.powerUsageMilliwatts];
  if (usage.some((value) => value !== null)) return null;
  const errors = Object.entries(reading.fieldErrors);
  if (errors.length === 0) return null;
  const codes = [...new Set(errors.map(([, code]) => code))].sort();
  return {
    index: reading.index,
    code: codes.join(","),
    unreadable: reading,
    message: `GPU ${reading.index} (${reading.uuid}): no usage metric could be read (${errors.map(([field, code]) => `${field} ${code}`).join(", ")})`,
  };
}

/** What snapshot prints about the host. Not for the agent: host() loads libcuda (see Nvml.host). */
export function hostSummary(nvml: Nvml, gpuCount: number): HostSummary {
  return { ...nvml.host(), nvmlLibrary: nvml.libraryPath, gpuCount };
}
