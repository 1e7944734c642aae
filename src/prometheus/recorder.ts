// What the agent tells the metrics endpoint as it runs: the latest tick, the
// XIDs, NVML's errors and the send ledger's state. Held in memory, so a scrape
// reads only this.

import type { GpuFailure, GpuSample } from "../collect/sample.ts";
import type { ScrapeState } from "./exposition.ts";

/** Distinct NVML error series kept at most: a broken driver must not grow the page without bound. */
const MAX_ERROR_SERIES = 200;

export class MetricsRecorder {
  private gpus: readonly GpuSample[] = [];
  private lastSampleTs: number | null = null;
  private tickDurationSeconds: number | null = null;
  private driverVersion: string | null = null;
  private nvmlVersion: string | null = null;
  private readonly lastXid = new Map<string, number>();
  private readonly nvmlErrors = new Map<string, number>();
  private windowsPending: number | null = null;
  private windowsFailed: number | null = null;
  private lastSend: ScrapeState["lastSend"] = null;
  private scrapes = 0;

  constructor(
    private readonly hostname: string,
    private readonly version: string,
  ) {}

  /** A tick's readings, and NVML's errors in it (per metric, and per GPU that could not be read). */
  tick(ts: number, gpus: readonly GpuSample[], failures: readonly GpuFailure[]): void {
    this.gpus = gpus;
    this.lastSampleTs = ts;
    for (const gpu of gpus) for (const [field, code] of Object.entries(gpu.fieldErrors)) this.countError(field, code);
    for (const failure of failures) for (const code of failure.code.split(",")) this.countError(failure.unreadable ? "gpu_unreadable" : "gpu", code);
  }

  /** How long the tick took, sampling and storing. */
  tickTook(seconds: number): void {
    this.tickDurationSeconds = seconds;
  }

  /** The versions NVML gave when it opened: the driver's and its own. */
  driver(version: string | null, nvmlVersion: string | null = null): void {
    this.driverVersion = version;
    this.nvmlVersion = nvmlVersion;
  }

  xid(uuid: string, code: number): void {
    this.lastXid.set(uuid, code);
  }

  ledger(counts: { pending: number; failed: number }, lastAttempt: { outcome: string; attempted_at: number } | null): void {
    this.windowsPending = counts.pending;
    this.windowsFailed = counts.failed;
    this.lastSend = lastAttempt ? { ok: lastAttempt.outcome === "sent", ts: Math.floor(lastAttempt.attempted_at) } : null;
  }

  scraped(): void {
    this.scrapes++;
  }

  state(): ScrapeState {
    return {
      hostname: this.hostname,
      version: this.version,
      driverVersion: this.driverVersion,
      nvmlVersion: this.nvmlVersion,
      gpus: this.gpus,
      lastSampleTs: this.lastSampleTs,
      tickDurationSeconds: this.tickDurationSeconds,
      lastXid: this.lastXid,
      nvmlErrors: this.nvmlErrors,
      windowsPending: this.windowsPending,
      windowsFailed: this.windowsFailed,
      lastSend: this.lastSend,
      scrapes: this.scrapes,
    };
  }

  private countError(what: string, code: string): void {
    const key = `${what}|${code}`;
    const count = this.nvmlErrors.get(key);
    if (count !== undefined) this.nvmlErrors.set(key, count + 1);
    else if (this.nvmlErrors.size < MAX_ERROR_SERIES) this.nvmlErrors.set(key, 1);
  }
}
