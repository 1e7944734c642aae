// Finding and opening the NVML library. The only module that calls dlopen.

import { dlopen, FFIType } from "bun:ffi";
import { existsSync } from "node:fs";
import { basename, join } from "node:path";
import { NvmlUnavailableError } from "./errors.ts";

type Arg = FFIType.u32 | FFIType.i32 | FFIType.u64 | FFIType.ptr;
const { u32, i32, u64, ptr } = FFIType;

/**
 * Each logical NVML function with the symbols that provide it, newest first.
 * The C header's #defines (nvmlInit -> nvmlInit_v2, ...) do not apply to FFI:
 * binding a plain name gets the old ABI, so every versioned name is listed.
 */
export const NVML_FUNCTIONS = {
  init: { symbols: ["nvmlInit_v2", "nvmlInit"], args: [] },
  shutdown: { symbols: ["nvmlShutdown"], args: [] },
  deviceCount: { symbols: ["nvmlDeviceGetCount_v2", "nvmlDeviceGetCount"], args: [ptr] },
  handleByIndex: { symbols: ["nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex"], args: [u32, ptr] },
  uuid: { symbols: ["nvmlDeviceGetUUID"], args: [ptr, ptr, u32] },
  driverVersion: { symbols: ["nvmlSystemGetDriverVersion"], args: [ptr, u32] },
  nvmlVersion: { symbols: ["nvmlSystemGetNVMLVersion"], args: [ptr, u32] },
  cudaDriverVersion: { symbols: ["nvmlSystemGetCudaDriverVersion_v2", "nvmlSystemGetCudaDriverVersion"], args: [ptr] },
  processName: { symbols: ["nvmlSystemGetProcessName"], args: [u32, ptr, u32] },
  name: { symbols: ["nvmlDeviceGetName"], args: [ptr, ptr, u32] },
  serial: { symbols: ["nvmlDeviceGetSerial"], args: [ptr, ptr, u32] },
  pciInfo: { symbols: ["nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetPciInfo_v2", "nvmlDeviceGetPciInfo"], args: [ptr, ptr] },
  memoryInfo: { symbols: ["nvmlDeviceGetMemoryInfo_v2", "nvmlDeviceGetMemoryInfo"], args: [ptr, ptr] },
  utilization: { symbols: ["nvmlDeviceGetUtilizationRates"], args: [ptr, ptr] },
  temperature: { symbols: ["nvmlDeviceGetTemperature"], args: [ptr, i32, ptr] },
  numFans: { symbols: ["nvmlDeviceGetNumFans"], args: [ptr, ptr] },
  fanSpeedOfFan: { symbols: ["nvmlDeviceGetFanSpeed_v2"], args: [ptr, u32, ptr] },
  fanSpeed: { symbols: ["nvmlDeviceGetFanSpeed"], args: [ptr, ptr] },
  powerUsage: { symbols: ["nvmlDeviceGetPowerUsage"], args: [ptr, ptr] },
  enforcedPowerLimit: { symbols: ["nvmlDeviceGetEnforcedPowerLimit"], args: [ptr, ptr] },
  powerManagementLimit: { symbols: ["nvmlDeviceGetPowerManagementLimit"], args: [ptr, ptr] },
  totalEnergy: { symbols: ["nvmlDeviceGetTotalEnergyConsumption"], args: [ptr, ptr] },
  clockInfo: { symbols: ["nvmlDeviceGetClockInfo"], args: [ptr, i32, ptr] },
  performanceState: { symbols: ["nvmlDeviceGetPerformanceState"], args: [ptr, ptr] },
  clockEventReasons: {
    symbols: ["nvmlDeviceGetCurrentClocksEventReasons", "nvmlDeviceGetCurrentClocksThrottleReasons"],
    args: [ptr, ptr],
  },
  eccMode: { symbols: ["nvmlDeviceGetEccMode"], args: [ptr, ptr, ptr] },
  totalEccErrors: { symbols: ["nvmlDeviceGetTotalEccErrors"], args: [ptr, i32, i32, ptr] },
  encoderUtilization: { symbols: ["nvmlDeviceGetEncoderUtilization"], args: [ptr, ptr, ptr] },
  decoderUtilization: { symbols: ["nvmlDeviceGetDecoderUtilization"], args: [ptr, ptr, ptr] },
  pcieLinkGeneration: { symbols: ["nvmlDeviceGetCurrPcieLinkGeneration"], args: [ptr, ptr] },
  pcieLinkWidth: { symbols: ["nvmlDeviceGetCurrPcieLinkWidth"], args: [ptr, ptr] },
  pcieThroughput: { symbols: ["nvmlDeviceGetPcieThroughput"], args: [ptr, i32, ptr] },
  remappedRows: { symbols: ["nvmlDeviceGetRemappedRows"], args: [ptr, ptr, ptr, ptr, ptr] },
  // The driver's own history of utilization and power (lastSeenTimeStamp is an unsigned long long of microseconds).
  samples: { symbols: ["nvmlDeviceGetSamples"], args: [ptr, i32, u64, ptr, ptr, ptr] },
  supportedEventTypes: { symbols: ["nvmlDeviceGetSupportedEventTypes"], args: [ptr, ptr] },
  registerEvents: { symbols: ["nvmlDeviceRegisterEvents"], args: [ptr, u64, ptr] },
  eventSetCreate: { symbols: ["nvmlEventSetCreate"], args: [ptr] },
  eventSetFree: { symbols: ["nvmlEventSetFree"], args: [ptr] },
  eventSetWait: { symbols: ["nvmlEventSetWait_v2", "nvmlEventSetWait"], args: [ptr, ptr, u32] },
  computeProcesses: {
    symbols: [
      "nvmlDeviceGetComputeRunningProcesses_v3",
      "nvmlDeviceGetComputeRunningProcesses_v2",
      "nvmlDeviceGetComputeRunningProcesses",
    ],
    args: [ptr, ptr, ptr],
  },
  // Per-process SM, memory, encoder and decoder utilization since a CPU timestamp (microseconds).
  processUtilization: { symbols: ["nvmlDeviceGetProcessUtilization"], args: [ptr, ptr, ptr, u64] },
  graphicsProcesses: {
    symbols: [
      "nvmlDeviceGetGraphicsRunningProcesses_v3",
      "nvmlDeviceGetGraphicsRunningProcesses_v2",
      "nvmlDeviceGetGraphicsRunningProcesses",
    ],
    args: [ptr, ptr, ptr],
  },
  // Clients of an MPS server (same entries as the compute list); drivers before 470 have none.
  mpsProcesses: {
    symbols: [
      "nvmlDeviceGetMPSComputeRunningProcesses_v3",
      "nvmlDeviceGetMPSComputeRunningProcesses_v2",
      "nvmlDeviceGetMPSComputeRunningProcesses",
    ],
    args: [ptr, ptr, ptr],
  },
  // MIG (Ampere and later, Linux): a GPU's mode and its MIG devices, which answer like devices of their own.
  migMode: { symbols: ["nvmlDeviceGetMigMode"], args: [ptr, ptr, ptr] },
  maxMigDeviceCount: { symbols: ["nvmlDeviceGetMaxMigDeviceCount"], args: [ptr, ptr] },
  migDeviceHandleByIndex: { symbols: ["nvmlDeviceGetMigDeviceHandleByIndex"], args: [ptr, u32, ptr] },
  gpuInstanceId: { symbols: ["nvmlDeviceGetGpuInstanceId"], args: [ptr, ptr] },
  computeInstanceId: { symbols: ["nvmlDeviceGetComputeInstanceId"], args: [ptr, ptr] },
  // GPM (Hopper and later, driver 520+): activity counters per GPU and per GPU instance.
  gpmQueryDeviceSupport: { symbols: ["nvmlGpmQueryDeviceSupport"], args: [ptr, ptr] },
  gpmSampleAlloc: { symbols: ["nvmlGpmSampleAlloc"], args: [ptr] },
  gpmSampleFree: { symbols: ["nvmlGpmSampleFree"], args: [ptr] },
  gpmSampleGet: { symbols: ["nvmlGpmSampleGet"], args: [ptr, ptr] },
  gpmMigSampleGet: { symbols: ["nvmlGpmMigSampleGet"], args: [ptr, u32, ptr] },
  gpmMetricsGet: { symbols: ["nvmlGpmMetricsGet"], args: [ptr] },
} as const satisfies Record<string, { symbols: readonly string[]; args: readonly Arg[] }>;

export type NvmlFunctionName = keyof typeof NVML_FUNCTIONS;

/** Every NVML function returns nvmlReturn_t; pointers are passed as plain addresses. */
export type NvmlCall = (...args: number[]) => number;

export interface BoundFunction {
  call: NvmlCall;
  /** The symbol that was bound, e.g. nvmlDeviceGetMemoryInfo_v2. */
  symbol: string;
  /** The next older symbol, for when this one exists but will not answer. */
  older: BoundFunction | null;
}

/** Functions without which nothing can be read: a library missing one is not NVML. */
const REQUIRED: readonly NvmlFunctionName[] = ["init", "shutdown", "deviceCount", "handleByIndex", "uuid"];

export interface NvmlLibrary {
  path: string;
  functions: { [K in NvmlFunctionName]: BoundFunction | null };
  close(): void;
}

const LINUX_SONAME = "libnvidia-ml.so.1";

/**
 * Where to look for NVML, in order. An explicit path is the only candidate.
 * Absolute paths only, except the Linux loader name, which is skipped when the
 * working directory holds a file of that name: Bun retries a bare name in the
 * working directory, and an agent must never load a library from there by accident.
 */
export function nvmlCandidates(options: {
  platform: NodeJS.Platform;
  arch: string;
  env: Record<string, string | undefined>;
  explicitPath?: string | undefined;
  cwdHasLoaderName?: boolean;
}): string[] {
  if (options.explicitPath) return [options.explicitPath];
  const { env } = options;
  if (options.platform === "win32") {
    const systemRoot = env.SystemRoot ?? env.SYSTEMROOT ?? "C:\\Windows";
    const programFiles = env.ProgramW6432 ?? env.ProgramFiles ?? "C:\\Program Files";
    return unique([
      `${systemRoot}\\System32\\nvml.dll`,
      `${programFiles}\\NVIDIA Corporation\\NVSMI\\nvml.dll`,
    ]);
  }
  if (options.platform !== "linux") return [];
  const multiarch = options.arch === "arm64" ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
  const folders = [
    `/usr/lib/${multiarch}`,
    "/usr/lib64",
    "/usr/lib",
    "/usr/local/nvidia/lib64", // NVIDIA container toolkit
    "/run/opengl-driver/lib", // NixOS
    "/usr/lib/wsl/lib", // WSL 2
  ];
  const loader = options.cwdHasLoaderName ? [] : [LINUX_SONAME];
  return unique([...loader, ...folders.map((folder) => `${folder}/${LINUX_SONAME}`)]);
}

function unique(paths: string[]): string[] {
  return [...new Set(paths)];
}

/** What to tell a person when no candidate loads. */
export function installAdvice(platform: NodeJS.Platform): string {
  switch (platform) {
    case "linux":
      return "install the NVIDIA driver (its libnvidia-ml.so.1 comes with it, e.g. the nvidia-utils or libnvidia-ml package), or set GPU_MONITOR_NVML_LIBRARY to the library's full path";
    case "win32":
      return "install the NVIDIA display driver (it puts nvml.dll in System32), or set GPU_MONITOR_NVML_LIBRARY to nvml.dll's full path";
    case "darwin":
      return "NVIDIA ships no driver or NVML for macOS, so GPU metrics cannot be read on this machine";
    default:
      return `NVML is not available on ${platform}`;
  }
}

/**
 * Opens the first candidate that loads and binds every function it provides.
 * Throws NvmlUnavailableError naming every path tried when none does.
 */
export function openNvmlLibrary(explicitPath?: string): NvmlLibrary {
  const platform = process.platform;
  const candidates = nvmlCandidates({
    platform,
    arch: process.arch,
    env: process.env,
    explicitPath,
    cwdHasLoaderName: platform === "linux" && existsSync(join(process.cwd(), LINUX_SONAME)),
  });
  const tried: string[] = [];
  for (const path of candidates) {
    const absolute = path.includes("/") || path.includes("\\");
    if (absolute && !existsSync(path)) {
      tried.push(`${path} (no such file)`);
      continue;
    }
    const outcome = bindAll(path);
    if ("library" in outcome) return outcome.library;
    // Bun reports only its retry in the working directory for a bare name; say what it means.
    const reason = absolute ? outcome.reason : "not found by the dynamic loader";
    tried.push(`${path} (${reason})`);
  }
  const what = platform === "win32" ? "nvml.dll" : LINUX_SONAME;
  const lead =
    platform === "darwin" ? "no NVIDIA driver on macOS" : `NVML (${what}) could not be loaded`;
  throw new NvmlUnavailableError(
    `${lead}: ${installAdvice(platform)}${tried.length ? `. Tried: ${tried.join("; ")}` : ""}`,
    tried,
  );
}

type BindOutcome = { library: NvmlLibrary } | { reason: string };

function bindAll(path: string): BindOutcome {
  // nvmlShutdown exists in every NVML ever shipped: binding it alone says whether
  // the file loads at all, and why not.
  try {
    dlopen(path, { nvmlShutdown: { args: [], returns: i32 } }).close();
  } catch (error) {
    return { reason: shortReason(error, path) };
  }
  // In Bun one missing symbol fails a whole dlopen: probe each symbol on its own
  // (and let go of the probe), then bind every symbol present in one dlopen, which
  // keeps one set of call stubs in memory instead of one per symbol.
  const present: Record<string, { args: readonly Arg[]; returns: FFIType.i32 }> = {};
  for (const spec of Object.values(NVML_FUNCTIONS)) {
    for (const symbol of spec.symbols) {
      try {
        dlopen(path, { [symbol]: { args: [], returns: i32 } }).close();
        present[symbol] = { args: spec.args, returns: i32 };
      } catch {
        // not in this driver; an older name may be
      }
    }
  }
  const library = dlopen(path, present);
  const calls = library.symbols as unknown as Record<string, NvmlCall>;
  const functions = {} as NvmlLibrary["functions"];
  for (const name of Object.keys(NVML_FUNCTIONS) as NvmlFunctionName[]) {
    functions[name] = chain(NVML_FUNCTIONS[name].symbols.filter((symbol) => symbol in present), calls);
  }
  const missing = REQUIRED.filter((name) => functions[name] === null);
  if (missing.length > 0) {
    library.close();
    return { reason: `not an NVML library: missing ${missing.join(", ")}` };
  }
  return { library: { path, functions, close: () => library.close() } };
}

/** The symbols a driver has for one function, newest first, linked newest to oldest. */
function chain(symbols: readonly string[], calls: Record<string, NvmlCall>): BoundFunction | null {
  let older: BoundFunction | null = null;
  for (let i = symbols.length - 1; i >= 0; i--) {
    const symbol = symbols[i]!;
    older = { call: calls[symbol]!, symbol, older };
  }
  return older;
}

function shortReason(error: unknown, path: string): string {
  const text = error instanceof Error ? error.message : String(error);
  // Bun's message names the path twice (`... "/etc/passwd": /etc/passwd: invalid ELF header`):
  // keep it once, as given, so the person sees the file they named.
  return text.replace(`: ${path}: `, ": ").split("\n")[0]!.trim();
}
