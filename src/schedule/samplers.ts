// What the agent loop asks every tick: this tick's readings, or null. Logs what
// happens once per change of state, never per tick.

import type { GpuFailure, GpuSample } from "../collect/sample.ts";
import type { Logger } from "../log.ts";
import type { GpuReading } from "../nvml/index.ts";
import { xidText } from "../metrics/xid.ts";
import type { EventFacts } from "../store/events.ts";
import type { Nvml } from "../nvml/index.ts";
import { SAMPLER_WORKER_URL } from "../workers.ts";
import type { WorkerReply, WorkerRequest } from "./samplerWorker.ts";
import { NvmlSession, type SessionResult, type TimedEvent } from "./session.ts";

/** One tick's readings: the GPUs read, and those that answered only who they are (unreadable: kept as present, without a sample). */
export interface TickReadings {
  gpus: GpuSample[];
  unreadable: GpuReading[];
  /** GPUs that could not be read this tick (the unreadable among them). */
  failures: GpuFailure[];
}

export interface TickSampler {
  sample(atMs: number): Promise<TickReadings | null>;
  /** Resolves true when a thread stuck in an NVML call had to be abandoned (the process must exit by itself). */
  close(): Promise<boolean>;
}

/** Something worth keeping in the database's event log; `atMs` when it happened earlier than now. */
export type EventSink = (kind: string, gpuIndex: number | null, detail: string, facts?: EventFacts & { atMs?: number }) => void;

/** NVML's code for a lost GPU, kept with a gpu_lost event. */
const GPU_IS_LOST_CODE = 15;

/** Turns session results into readings, log lines and events, once per change of state. */
class Reporter {
  private lastProblem: string | null = null;
  private readonly gpuProblems = new Map<number, string>();
  /** Each GPU's UUID by index, as last read: a lost GPU no longer tells it, and its events should name it. */
  private readonly uuids = new Map<number, string>();

  constructor(
    private readonly log: Logger,
    private readonly onReady: (driverVersion: string | null, nvmlVersion: string | null) => void,
    private readonly onEvent: EventSink = () => {},
  ) {}

  readings(result: SessionResult): TickReadings | null {
    if (result.kind === "unavailable") {
      this.problem(`${result.message}; retrying every tick`, "nvml_unavailable");
      return null;
    }
    if (result.kind === "lost") {
      this.problem(`NVML stopped answering (${result.message}); reconnecting`, "nvml_lost");
      return null;
    }
    if (result.opened) {
      this.onReady(result.opened.driverVersion, result.opened.nvmlVersion);
      this.onEvent("nvml_ready", null, `${result.opened.libraryPath}, driver ${result.opened.driverVersion ?? "unknown"}, ${result.opened.gpuCount} GPU(s)`);
      this.log.info(`NVML ready: ${result.opened.libraryPath}, driver ${result.opened.driverVersion ?? "unknown"}, ${result.opened.gpuCount} GPU(s)`);
      this.lastProblem = null;
    }
    for (const gpu of result.gpus) if (gpu.parentUuid === null) this.uuids.set(gpu.index, gpu.uuid);
    this.reportGpus(result.failures);
    this.reportDriverEvents(result.events, result.eventsDropped);
    if (result.reinitialised) this.problem(`every GPU failed with ${result.reinitialised}; reinitialising NVML`, "nvml_reinit");
    return {
      gpus: result.gpus,
      unreadable: result.failures.flatMap((failure) => (failure.unreadable ? [failure.unreadable] : [])),
      failures: result.failures,
    };
  }

  problem(message: string, kind = "problem"): void {
    if (message !== this.lastProblem) {
      this.log.error(message);
      this.onEvent(kind, null, message);
    }
    this.lastProblem = message;
  }

  recovered(message: string, kind = "recovered"): void {
    this.log.info(message);
    this.onEvent(kind, null, message);
    this.lastProblem = null;
  }

  /** XIDs, ECC errors and GPUs gone unavailable, each logged and kept as it came. */
  private reportDriverEvents(events: readonly TimedEvent[], dropped: number): void {
    for (const event of events) {
      const gpu = event.index === null ? "a GPU" : `GPU ${event.index}`;
      const detail =
        event.kind === "xid"
          ? `${gpu}: ${xidText(event.code ?? 0)}`
          : event.kind === "single_bit_ecc"
            ? `${gpu}: single-bit ECC error (corrected)`
            : event.kind === "double_bit_ecc"
              ? `${gpu}: double-bit ECC error (uncorrectable)`
              : `${gpu} became unavailable`;
      if (event.kind === "single_bit_ecc") this.log.info(detail);
      else this.log.warn(detail);
      this.onEvent(event.kind, event.index, detail, { uuid: event.uuid, code: event.code, atMs: event.atMs });
    }
    if (dropped > 0) this.log.warn(`${dropped} driver event(s) more came since the last tick and were not kept`);
  }

  private reportGpus(failures: readonly GpuFailure[]): void {
    const failing = new Set(failures.map((failure) => failure.index));
    for (const failure of failures) {
      if (this.gpuProblems.get(failure.index) !== failure.code) {
        this.log.error(failure.message);
        const lost = failure.code === "NVML_ERROR_GPU_IS_LOST";
        const kind = lost ? "gpu_lost" : failure.unreadable ? "gpu_unreadable" : "gpu_failed";
        const uuid = failure.unreadable?.uuid ?? this.uuids.get(failure.index) ?? null;
        this.onEvent(kind, failure.index, failure.message, { uuid, code: lost ? GPU_IS_LOST_CODE : null });
      }
      this.gpuProblems.set(failure.index, failure.code);
    }
    for (const index of this.gpuProblems.keys()) {
      if (!failing.has(index)) {
        this.log.info(`GPU ${index} is readable again`);
        this.onEvent("gpu_recovered", index, `GPU ${index} is readable again`, { uuid: this.uuids.get(index) ?? null });
        this.gpuProblems.delete(index);
      }
    }
  }
}

/** NVML on the loop's own thread: for tests with a stand-in NVML. */
export class InProcessSampler implements TickSampler {
  private readonly session: NvmlSession;
  private readonly reporter: Reporter;

  constructor(
    open: () => Nvml,
    log: Logger,
    onReady: (driverVersion: string | null, nvmlVersion: string | null) => void,
    onEvent?: EventSink,
    private readonly intervalMs = Infinity,
    lookUpOwners = false,
  ) {
    this.session = new NvmlSession(open, Date.now, lookUpOwners);
    this.reporter = new Reporter(log, onReady, onEvent);
  }

  async sample(atMs: number): Promise<TickReadings | null> {
    return this.reporter.readings(this.session.sample(atMs, this.intervalMs));
  }

  async close(): Promise<boolean> {
    this.session.close();
    return false;
  }
}

export interface WorkerSamplerOptions {
  libraryPath: string | undefined;
  log: Logger;
  onReady: (driverVersion: string | null, nvmlVersion: string | null) => void;
  /** How long a tick waits for NVML before it is skipped. */
  deadlineMs: number;
  /** The collection interval: GPM activity over a longer span (a missed tick) is dropped. */
  intervalMs: number;
  /** How long NVML may stay silent before the Worker is replaced. */
  restartAfterMs: number;
  now?: () => number;
  onEvent?: EventSink;
  /** A tick waiting on NVML gives up at once when the agent stops. */
  stop?: AbortSignal;
  /** Look up who owns each GPU process (collection.processes not "off"). */
  lookUpOwners?: boolean;
}

/**
 * NVML on a Worker thread. A call that hangs blocks only that thread: the tick
 * is skipped after `deadlineMs`, later ticks are skipped while it stays stuck,
 * sampling resumes when it answers, and after `restartAfterMs` the Worker is
 * replaced (the stuck thread is abandoned).
 */
export class WorkerSampler implements TickSampler {
  private worker: Worker | null = null;
  private nextId = 0;
  private readonly waiting = new Map<number, (reply: WorkerReply) => void>();
  private hungSince: number | null = null;
  private readonly reporter: Reporter;
  private readonly now: () => number;

  constructor(private readonly options: WorkerSamplerOptions) {
    this.reporter = new Reporter(options.log, options.onReady, options.onEvent);
    this.now = options.now ?? Date.now;
  }

  async sample(atMs: number): Promise<TickReadings | null> {
    if (this.hungSince !== null) {
      const silentMs = this.now() - this.hungSince;
      if (silentMs < this.options.restartAfterMs) return null;
      this.reporter.problem(`NVML has not answered for ${Math.round(silentMs / 1000)} s: replacing the sampling thread`, "hung_restart");
      this.worker?.terminate();
      this.worker = null;
      this.waiting.clear();
      this.hungSince = null;
    }
    const id = ++this.nextId;
    const reply = await this.request(
      { type: "sample", id, atMs, intervalMs: this.options.intervalMs, libraryPath: this.options.libraryPath, lookUpOwners: this.options.lookUpOwners ?? false },
      id,
    );
    if (reply === null && this.options.stop?.aborted) {
      if (this.waiting.has(id)) this.hungSince = this.now(); // still inside NVML: do not wait for it on close
      return null;
    }
    if (reply === null) {
      this.hungSince = this.now();
      this.reporter.problem(
        `an NVML call has not returned within ${this.options.deadlineMs / 1000} s: ticks are skipped until the driver answers`,
        "hung",
      );
      return null;
    }
    if (reply.type === "failed") {
      this.reporter.problem(`sampling failed: ${reply.message}`);
      return null;
    }
    return reply.type === "result" ? this.reporter.readings(reply.result) : null;
  }

  async close(): Promise<boolean> {
    const worker = this.worker;
    if (!worker) return false;
    const stuck = this.hungSince !== null;
    if (!stuck) {
      // Let it shut NVML down cleanly, but never wait long for a thread that may be stuck.
      // A cleared timer, not Bun.sleep: a pending sleep would keep the process alive for its second.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        timer = setTimeout(resolve, 1000);
        worker.addEventListener("message", (event: MessageEvent<WorkerReply>) => event.data.type === "closed" && resolve());
        worker.postMessage({ type: "close" } satisfies WorkerRequest);
      });
      clearTimeout(timer);
    }
    worker.terminate();
    this.worker = null;
    return stuck;
  }

  /** The reply, or null when it did not come within the deadline (it may still come). */
  private request(request: WorkerRequest, id: number): Promise<WorkerReply | null> {
    const worker = this.ensureWorker();
    const stop = this.options.stop;
    return new Promise((resolve) => {
      const giveUp = () => {
        clearTimeout(timer);
        resolve(null);
      };
      const timer = setTimeout(giveUp, this.options.deadlineMs);
      stop?.addEventListener("abort", giveUp, { once: true });
      this.waiting.set(id, (reply) => {
        clearTimeout(timer);
        stop?.removeEventListener("abort", giveUp);
        this.waiting.delete(id);
        resolve(reply);
      });
      worker.postMessage(request);
    });
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(SAMPLER_WORKER_URL);
    worker.addEventListener("message", (event: MessageEvent<WorkerReply>) => {
      const reply = event.data;
      if (reply.type === "closed") return;
      const resolve = this.waiting.get(reply.id);
      if (this.hungSince !== null) {
        this.reporter.recovered(`NVML answered again after ${Math.round((this.now() - this.hungSince) / 1000)} s: sampling resumes`, "resumed");
        this.hungSince = null;
      }
      resolve?.(reply);
    });
    worker.addEventListener("error", (event) => this.reporter.problem(`the sampling thread failed: ${event.message}`));
    this.worker = worker;
    return worker;
  }
}
