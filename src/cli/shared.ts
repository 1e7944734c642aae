// Argument fragments shared by commands.
import type { ArgsDef } from "citty";

export const nvmlLibraryArg = {
  "nvml-library": {
    type: "string",
    description: "Full path of the NVML library to load (default: $GPU_MONITOR_NVML_LIBRARY, then the system's)",
    valueHint: "path",
  },
} as const satisfies ArgsDef;

/** --nvml-library, then GPU_MONITOR_NVML_LIBRARY; undefined means search the system. */
export function resolveNvmlLibrary(args: { "nvml-library"?: string | undefined }): string | undefined {
  return args["nvml-library"] || process.env.GPU_MONITOR_NVML_LIBRARY || undefined;
}
