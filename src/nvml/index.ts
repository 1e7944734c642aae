// The NVML layer's public surface.
export { openNvml, type OpenNvmlOptions } from "./binding.ts";
export { NvmlError, NvmlUnavailableError, returnCodeName } from "./errors.ts";
export { clockEventReasonNames } from "./structs.ts";
export type { DeviceEvent, DriverSamples, GpmActivity, GpuProcess, GpuReading, HostInfo, Nvml, ProcessUtilization, SampleKind } from "./types.ts";
