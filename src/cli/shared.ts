// Argument fragments and config handling shared by commands.
import type { ArgsDef } from "citty";
import { defaultSources, loadConfig, type LoadedConfig } from "../config/load.ts";
import { escapeControl } from "../util/text.ts";
import { formatTime, parseTime } from "../util/time.ts";
import { UsageError } from "./errors.ts";

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

/** --from and --to as a range; `defaultTo` when --to is not given. A range that ends before it starts is a usage error. */
export function timeRange(fromText: string, toText: string | undefined, now: number, defaultTo: number): { from: number; to: number } {
  const from = parseTime(fromText, now);
  const to = toText ? parseTime(toText, now) : defaultTo;
  if (to <= from) throw new UsageError(`--to (${formatTime(to)}) must be after --from (${formatTime(from)})`);
  return { from, to };
}
