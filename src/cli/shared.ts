// Argument fragments and config handling shared by commands.
import type { ArgsDef } from "citty";
import { defaultSources, loadConfig, type LoadedConfig } from "../config/load.ts";
import { escapeControl } from "../util/text.ts";

export const configArg = {
  config: {
    type: "string",
    alias: "c",
    description: "Config file (default: $GPU_MONITOR_CONFIG, ./config.json, ~/.gpu_monitor/config.json, /etc/gpu_monitor/config.json)",
    valueHint: "path",
  },
} as const satisfies ArgsDef;

export const nvmlLibraryArg = {
  "nvml-library": {
    type: "string",
    description: "Full path of the NVML library to load (default: $GPU_MONITOR_NVML_LIBRARY, config nvml.library, then the system's)",
    valueHint: "path",
  },
} as const satisfies ArgsDef;

/** Loads the config a command was pointed at, printing its warnings on stderr. */
export function commandConfig(args: { config?: string | undefined }): LoadedConfig {
  const loaded = loadConfig(defaultSources(args.config || undefined));
  for (const warning of loaded.warnings) process.stderr.write(`gpu_monitor: warning: ${escapeControl(warning)}\n`);
  return loaded;
}

/** --nvml-library, then $GPU_MONITOR_NVML_LIBRARY or config nvml.library; undefined searches the system. */
export function resolveNvmlLibrary(args: { "nvml-library"?: string | undefined }, loaded: LoadedConfig): string | undefined {
  return args["nvml-library"] || loaded.config.nvml.library || undefined;
}
