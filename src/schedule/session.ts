// One NVML session and what a tick gets from it. No logging and no timers here:
// it runs on the agent's sampling Worker (or in-process in tests) and reports
// plain data, which the agent logs.

import { ProcessNameCache, osProcessNameLookup } from "../collect/processNames.ts";
import { takeSample, type GpuFailure, type GpuSample } from "../collect/sample.ts";
import { NvmlError, NvmlUnavailableError, type Nvml } from "../nvml/index.ts";

export type SessionResult =
  | {
      kind: "sample";
      gpus: GpuSample[];
      failures: GpuFailure[];
      /** Set on the tick that opened the session. */
      opened: { libraryPath: string; driverVersion: string | null; gpuCount: number } | null;
      /** Set when every GPU reported a driver-level error: the session was closed. */
      reinitialised: string | null;
    }
  | { kind: "unavailable"; message: string }
  | { kind: "lost"; message: string };

/** GPU failures that mean the driver, not the GPU: a new NVML session is needed. */
const DRIVER_LEVEL = new Set(["NVML_ERROR_LIB_RM_VERSION_MISMATCH", "NVML_ERROR_DRIVER_NOT_LOADED", "NVML_ERROR_UNINITIALIZED"]);

export class NvmlSession {
  private nvml: Nvml | null = null;
  private names: ProcessNameCache | null = null;

  constructor(private readonly open: () => Nvml) {}

  sample(atMs: number): SessionResult {
    let opened: Extract<SessionResult, { kind: "sample" }>["opened"] = null;
    if (!this.nvml) {
      try {
        const nvml = this.open();
        this.nvml = nvml;
        this.names = new ProcessNameCache(osProcessNameLookup(), (pid) => nvml.processName(pid));
        opened = { libraryPath: nvml.libraryPath, driverVersion: nvml.driverVersion(), gpuCount: nvml.deviceCount() };
      } catch (error) {
        this.close();
        return { kind: "unavailable", message: (error as Error).message };
      }
    }
    try {
      const sample = takeSample(this.nvml, this.names!, () => new Date(atMs));
      let reinitialised: string | null = null;
      if (sample.gpus.length === 0 && sample.failures.length > 0 && sample.failures.every((f) => DRIVER_LEVEL.has(f.code))) {
        reinitialised = sample.failures[0]!.code;
        this.close();
      }
      return { kind: "sample", gpus: sample.gpus, failures: sample.failures, opened, reinitialised };
    } catch (error) {
      if (!(error instanceof NvmlError) && !(error instanceof NvmlUnavailableError)) throw error;
      this.close();
      return { kind: "lost", message: error.message };
    }
  }

  close(): void {
    try {
      this.nvml?.close();
    } catch {
      // the library is going away either way
    }
    this.nvml = null;
    this.names = null;
  }
}
