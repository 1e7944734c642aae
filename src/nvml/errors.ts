// NVML return codes (nvmlReturn_t in nvml.h) and the one place that turns them
// into typed errors with a message written for a person.

export const NVML_SUCCESS = 0;

const RETURN_CODES: Record<number, { name: string; message: string }> = {
  1: { name: "NVML_ERROR_UNINITIALIZED", message: "NVML was not initialised" },
  2: { name: "NVML_ERROR_INVALID_ARGUMENT", message: "NVML rejected an argument" },
  3: { name: "NVML_ERROR_NOT_SUPPORTED", message: "not supported by this GPU" },
  4: { name: "NVML_ERROR_NO_PERMISSION", message: "no permission to access this GPU" },
  5: { name: "NVML_ERROR_ALREADY_INITIALIZED", message: "NVML is already initialised" },
  6: { name: "NVML_ERROR_NOT_FOUND", message: "not found" },
  7: { name: "NVML_ERROR_INSUFFICIENT_SIZE", message: "buffer too small" },
  8: { name: "NVML_ERROR_INSUFFICIENT_POWER", message: "the GPU's external power cables are not connected properly" },
  9: { name: "NVML_ERROR_DRIVER_NOT_LOADED", message: "the NVIDIA kernel driver is not loaded" },
  10: { name: "NVML_ERROR_TIMEOUT", message: "the driver timed out" },
  11: { name: "NVML_ERROR_IRQ_ISSUE", message: "the kernel detected an interrupt issue with the GPU" },
  12: { name: "NVML_ERROR_LIBRARY_NOT_FOUND", message: "a library NVML needs was not found" },
  13: { name: "NVML_ERROR_FUNCTION_NOT_FOUND", message: "this NVML has no such function" },
  14: { name: "NVML_ERROR_CORRUPTED_INFOROM", message: "the GPU's infoROM is corrupted" },
  15: { name: "NVML_ERROR_GPU_IS_LOST", message: "the GPU has fallen off the bus or is otherwise inaccessible" },
  16: { name: "NVML_ERROR_RESET_REQUIRED", message: "the GPU needs a reset before it can be used again" },
  17: { name: "NVML_ERROR_OPERATING_SYSTEM", message: "the operating system blocked the request" },
  18: {
    name: "NVML_ERROR_LIB_RM_VERSION_MISMATCH",
    message: "the NVML library does not match the loaded kernel driver (driver upgraded without reboot?)",
  },
  19: { name: "NVML_ERROR_IN_USE", message: "the GPU is in use" },
  20: { name: "NVML_ERROR_MEMORY", message: "NVML ran out of memory" },
  21: { name: "NVML_ERROR_NO_DATA", message: "no data yet" },
  22: { name: "NVML_ERROR_VGPU_ECC_NOT_SUPPORTED", message: "ECC is not supported on this vGPU" },
  23: { name: "NVML_ERROR_INSUFFICIENT_RESOURCES", message: "not enough resources" },
  24: { name: "NVML_ERROR_FREQ_NOT_SUPPORTED", message: "frequency not supported" },
  25: { name: "NVML_ERROR_ARGUMENT_VERSION_MISMATCH", message: "struct version not understood by this driver" },
  26: { name: "NVML_ERROR_DEPRECATED", message: "deprecated function" },
  27: { name: "NVML_ERROR_NOT_READY", message: "the system is not ready" },
  28: { name: "NVML_ERROR_GPU_NOT_FOUND", message: "the GPU was not found" },
  29: { name: "NVML_ERROR_INVALID_STATE", message: "the GPU is in an invalid state" },
  999: { name: "NVML_ERROR_UNKNOWN", message: "unknown NVML error" },
};

export type NvmlReturnName = string;

export function returnCodeName(code: number): NvmlReturnName {
  if (code === NVML_SUCCESS) return "NVML_SUCCESS";
  return RETURN_CODES[code]?.name ?? `NVML_ERROR_CODE_${code}`;
}

export function returnCodeMessage(code: number): string {
  return RETURN_CODES[code]?.message ?? `unrecognised NVML return code ${code}`;
}

export const NOT_SUPPORTED = 3;
export const ALREADY_INITIALIZED = 5;
export const NO_PERMISSION = 4;
export const NOT_FOUND = 6;
export const INSUFFICIENT_SIZE = 7;
export const DRIVER_NOT_LOADED = 9;
export const FUNCTION_NOT_FOUND = 13;
export const IRQ_ISSUE = 11;
export const GPU_IS_LOST = 15;
export const RESET_REQUIRED = 16;
export const LIB_RM_VERSION_MISMATCH = 18;
export const NO_DATA = 21;
export const GPU_NOT_FOUND = 28;
export const UNINITIALIZED = 1;
export const ARGUMENT_VERSION_MISMATCH = 25;

/** An NVML call returned something other than success. */
export class NvmlError extends Error {
  override readonly name = "NvmlError";
  constructor(
    readonly code: number,
    readonly call: string,
    context?: string,
  ) {
    super(`${context ? `${context}: ` : ""}${returnCodeMessage(code)} (${returnCodeName(code)} from ${call})`);
  }
  get codeName(): NvmlReturnName {
    return returnCodeName(this.code);
  }
}

/** NVML could not be used at all: no library, or the driver refused to initialise. */
export class NvmlUnavailableError extends Error {
  override readonly name = "NvmlUnavailableError";
  constructor(
    message: string,
    readonly tried: readonly string[] = [],
  ) {
    super(message);
  }
}

/** Throws a typed error for any code but success. The single checker every call goes through. */
export function check(code: number, call: string, context?: string): void {
  if (code !== NVML_SUCCESS) throw new NvmlError(code, call, context);
}

/**
 * How a failed read of one metric affects the sample:
 * - "absent": the GPU or driver cannot give this metric; the field is null.
 * - "gpu": the GPU itself is unusable; the whole GPU's reading fails.
 * - "field": anything else; the field is null and the code is recorded with the reading.
 */
export type FailureScope = "absent" | "gpu" | "field";

const GPU_FATAL = new Set([
  UNINITIALIZED,
  DRIVER_NOT_LOADED,
  IRQ_ISSUE,
  GPU_IS_LOST,
  RESET_REQUIRED,
  LIB_RM_VERSION_MISMATCH,
  GPU_NOT_FOUND,
]);
const ABSENT = new Set([NOT_SUPPORTED, NO_PERMISSION, NOT_FOUND, FUNCTION_NOT_FOUND, NO_DATA]);

export function failureScope(code: number): FailureScope {
  if (ABSENT.has(code)) return "absent";
  if (GPU_FATAL.has(code)) return "gpu";
  return "field";
}
