// The NVML layer's public surface.
export { openNvml, type OpenNvmlOptions } from "./binding.ts";
export { NvmlError, NvmlUnavailableError, returnCodeName } from "./errors.ts";
export { clockEventReasonNames } from "./structs.ts";
export type { GpuProcess, GpuReading, HostInfo, Nvml } from "./types.ts";
