// One NVML session and what a tick gets from it. No logging and no timers here:
// it runs on the agent's sampling Worker (or in-process in tests) and reports
// plain data, which the agent logs.

import { DriverSampling } from "../collect/driverSamples.ts";
import { ProcessNameCache, osProcessNameLookup } from "../collect/processNames.ts";
import { ProcessOwners } from "../collect/processOwners.ts";
import { takeSample, withinGpmSpan, type GpuFailure, type GpuSample } from "../collect/sample.ts";
import { NvmlError, NvmlUnavailableError, type DeviceEvent, type Nvml } from "../nvml/index.ts";

/** A driver event with the time it was taken from the driver. */
export interface TimedEvent extends DeviceEvent {
  atMs: number;
}

/** Events held for the next tick at most: a storm of ECC events must not grow memory without bound. */
const MAX_PENDING_EVENTS = 1000;

export type SessionResult =
  | {
      kind: "sample";
      gpus: GpuSample[];
      failures: GpuFailure[];
      /** Set on the tick that opened the session. */
      opened: { libraryPath: string; driverVersion: string | null; nvmlVersion: string | null; gpuCount: number } | null;
      /** Set when every GPU reported a driver-level error: the session was closed. */
      reinitialised: string | null;
      /** Driver events since the last tick, oldest first. */
      events: TimedEvent[];
      /** Events dropped since the last tick because too many came. */
      eventsDropped: number;
    }
  | { kind: "unavailable"; message: string }
  | { kind: "lost"; message: string };

/** GPU failures that mean the driver, not the GPU: a new NVML session is needed. */
const DRIVER_LEVEL = new Set(["NVML_ERROR_LIB_RM_VERSION_MISMATCH", "NVML_ERROR_DRIVER_NOT_LOADED", "NVML_ERROR_UNINITIALIZED"]);

export class NvmlSession {
  private nvml: Nvml | null = null;
  private names: ProcessNameCache | null = null;
  private owners: ProcessOwners | null = null;
  private buffers = new DriverSampling();
  private events: TimedEvent[] = [];
  private eventsDropped = 0;

  constructor(
    private readonly open: () => Nvml,
    private readonly now: () => number = Date.now,
    /** Look up who owns each GPU process (collection.processes not "off"); /proc exists on Linux only. */
    private readonly lookUpOwners = false,
  ) {}

  /**
   * Reads the driver's sample buffers and events between ticks, so that no buffer
   * wraps before it is read and events carry the time they came. Does nothing
   * before the first tick opened NVML. A failure is left for the next tick to report.
   */
  poll(): void {
    const nvml = this.nvml;
    if (!nvml) return;
    try {
      this.buffers.poll(nvml);
      this.takeEvents(nvml);
    } catch {
      // the next tick's reading says what is wrong
    }
  }

  /** How often `poll` should run; null while no GPU keeps a sample buffer and no events are watched. */
  pollPeriodMs(): number | null {
    return this.nvml ? this.buffers.pollPeriodMs() : null;
  }

  /** One tick's readings; `intervalMs` is the agent's interval, the longest span a GPM value may cover (with slack). */
  sample(atMs: number, intervalMs = Infinity): SessionResult {
    let opened: Extract<SessionResult, { kind: "sample" }>["opened"] = null;
    if (!this.nvml) {
      try {
        const nvml = this.open();
        this.nvml = nvml;
        this.names = new ProcessNameCache(osProcessNameLookup(), (pid) => nvml.processName(pid));
        this.owners = this.lookUpOwners && process.platform === "linux" ? new ProcessOwners() : null;
        this.buffers = new DriverSampling();
        nvml.watchEvents?.();
        opened = { libraryPath: nvml.libraryPath, driverVersion: nvml.driverVersion(), nvmlVersion: nvml.nvmlVersion?.() ?? null, gpuCount: nvml.deviceCount() };
      } catch (error) {
        this.close();
        return { kind: "unavailable", message: (error as Error).message };
      }
    }
    try {
      const nvml = this.nvml;
      const sample = takeSample(nvml, this.names!, () => new Date(atMs), this.owners);
      const present = new Set<number>();
      for (const gpu of sample.gpus) {
        if (gpu.parentUuid !== null) continue; // a MIG device: the driver keeps no sample buffers for it
        present.add(gpu.index);
        this.buffers.attach(nvml, gpu.index, gpu.uuid);
      }
      this.buffers.retainOnly(present);
      this.buffers.poll(nvml);
      const gpus = sample.gpus.map((gpu) => withinGpmSpan(this.buffers.apply(gpu), intervalMs));
      this.takeEvents(nvml);
      const events = this.events;
      const eventsDropped = this.eventsDropped;
      this.events = [];
      this.eventsDropped = 0;
      let reinitialised: string | null = null;
      if (sample.gpus.length === 0 && sample.failures.length > 0 && sample.failures.every((f) => DRIVER_LEVEL.has(f.code))) {
        reinitialised = sample.failures[0]!.code;
        this.close();
      }
      return { kind: "sample", gpus, failures: sample.failures, opened, reinitialised, events, eventsDropped };
    } catch (error) {
      if (!(error instanceof NvmlError) && !(error instanceof NvmlUnavailableError)) throw error;
      this.close();
      return { kind: "lost", message: error.message };
    }
  }

  private takeEvents(nvml: Nvml): void {
    const taken = nvml.takeEvents?.();
    if (!taken || taken.length === 0) return;
    const atMs = this.now();
    for (const event of taken) {
      if (this.events.length >= MAX_PENDING_EVENTS) this.eventsDropped++;
      else this.events.push({ ...event, atMs });
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
    this.owners = null;
  }
}
