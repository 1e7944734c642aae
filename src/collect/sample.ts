// One reading of every GPU: what `snapshot` prints and what the agent stores.
// A GPU that cannot be read is reported as a failure; the others are still read.

import { NvmlError, type GpuProcess, type GpuReading, type Nvml, type ProcessUtilization } from "../nvml/index.ts";
import type { ProcessOwner, ProcessOwners } from "./processOwners.ts";
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
  /** Who owns it; null where owners are not looked up (collection.processes off, not Linux). */
  owner: ProcessOwner | null;
  /** Its utilization since the last reading, percent: 0 when it used none; null when the GPU cannot tell. */
  smPercent: number | null;
  memoryPercent: number | null;
  encoderPercent: number | null;
  decoderPercent: number | null;
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

export function takeSample(nvml: Nvml, names: ProcessNameCache, now: () => Date = () => new Date(), owners: ProcessOwners | null = null): Sample {
  const takenAt = now();
  const count = nvml.deviceCount();
  const gpus: GpuSample[] = [];
  const failures: GpuFailure[] = [];
  const pidsSeen = new Set<number>();
  const named = (reading: GpuReading): GpuSample => {
    const utilization = reading.processUtilization && new Map(reading.processUtilization.map((entry) => [entry.pid, entry]));
    return { ...reading, processes: reading.processes?.map((process) => namedProcess(process, utilization, names, owners, pidsSeen)) ?? null };
  };
  for (let index = 0; index < count; index++) {
    try {
      const reading = nvml.readGpu(index);
      const unreadable = unreadableReason(reading);
      if (unreadable) {
        failures.push(unreadable);
        continue;
      }
      // A GPU in MIG mode is followed by its MIG devices, each a device of its own.
      const migDevices = reading.migMode && nvml.readMigDevices ? nvml.readMigDevices(index) : [];
      gpus.push(named(reading));
      for (const device of migDevices) gpus.push(named(device));
    } catch (error) {
      if (!(error instanceof NvmlError)) throw error;
      failures.push({ index, code: error.codeName, message: error.message });
    }
  }
  names.retainOnly(pidsSeen);
  owners?.retainOnly(pidsSeen);
  return { takenAt, gpuCount: count, gpus, failures };
}

/** NVML's advice: GPM samples to compare at least 100 ms apart. */
const GPM_FIRST_SPAN_MS = 200;

/**
 * One reading of every GPU with GPM activity where a GPU has GPM: activity is
 * measured between two GPM samples, so a first reading 200 ms before starts the
 * span (a one-off command has no earlier tick to compare with).
 */
export function takeSampleWithActivity(nvml: Nvml, names: ProcessNameCache, now: () => Date = () => new Date(), owners: ProcessOwners | null = null): Sample {
  const first = takeSample(nvml, names, now, owners);
  if (!first.gpus.some((gpu) => gpu.parentUuid === null && nvml.gpmSupported?.(gpu.index))) return first;
  Bun.sleepSync(GPM_FIRST_SPAN_MS);
  return takeSample(nvml, names, now, owners);
}

function namedProcess(
  process: GpuProcess,
  utilization: Map<number, ProcessUtilization> | null,
  names: ProcessNameCache,
  owners: ProcessOwners | null,
  pidsSeen: Set<number>,
): NamedProcess {
  pidsSeen.add(process.pid);
  // The driver lists only processes that used the GPU since the last read: one not listed used none.
  const used = utilization?.get(process.pid);
  const share = (value: number | undefined) => (utilization === null ? null : (value ?? 0));
  return {
    ...process,
    name: names.name(process.pid),
    owner: owners ? owners.owner(process.pid) : null,
    smPercent: share(used?.smPercent),
    memoryPercent: share(used?.memoryPercent),
    encoderPercent: share(used?.encoderPercent),
    decoderPercent: share(used?.decoderPercent),
  };
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

/**
 * The reading without GPM activity over a span longer than about one interval: a
 * tick was missed (hung, suspended), and a value over two intervals must not
 * stand for one.
 */
export function withinGpmSpan<T extends GpuReading>(reading: T, intervalMs: number): T {
  if (reading.gpm === null || reading.gpm.spanMs <= intervalMs * 1.5) return reading;
  return { ...reading, gpm: null };
}

/** What snapshot prints about the host. Not for the agent: host() loads libcuda (see Nvml.host). */
export function hostSummary(nvml: Nvml, gpuCount: number): HostSummary {
  return { ...nvml.host(), nvmlLibrary: nvml.libraryPath, gpuCount };
}
