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
  /** NVML's code name, e.g. NVML_ERROR_GPU_IS_LOST. */
  code: string;
  message: string;
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

/** What snapshot prints about the host. Not for the agent: host() loads libcuda (see Nvml.host). */
export function hostSummary(nvml: Nvml, gpuCount: number): HostSummary {
  return { ...nvml.host(), nvmlLibrary: nvml.libraryPath, gpuCount };
}
