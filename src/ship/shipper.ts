// Ships closed windows oldest first, one request at a time, and records every
// attempt. A backlog drains in one go; a failure waits its backoff and blocks
// newer windows, so the server receives windows in order.

import { existsSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import type { Config } from "../config/schema.ts";
import type { Logger } from "../log.ts";
import type { Ledger, LedgerWindow } from "../store/ledger.ts";
import type { Store } from "../store/store.ts";
import { VERSION } from "../version.ts";
import { retryDelaySeconds } from "./backoff.ts";
import { redactUrlCredentials } from "../util/url.ts";
import { sendUpload, uploadTarget, type AttemptResult, type UploadTarget } from "./http.ts";
import { formatTime } from "../util/time.ts";
import { idempotencyKey, uploadBody, uploadGpu, type HostIdentity } from "./payload.ts";

export interface ShipResult {
  windowStart: number;
  outcome: AttemptResult["outcome"];
  error: string | null;
  serverUid: string | null;
  httpStatus: number | null;
  state: "sent" | "pending" | "failed";
  nextAttemptAt: number | null;
}

export type SendFunction = (target: UploadTarget, body: unknown, key: string, stop?: AbortSignal) => Promise<AttemptResult>;

export interface ShipperOptions {
  store: Store;
  config: Config;
  logger: Logger;
  now?: () => number;
  random?: () => number;
  send?: SendFunction;
  /** Aborts a request in flight when the agent stops. */
  stop?: AbortSignal;
  /** `gpu_monitor send`: try the oldest pending window now, whatever its backoff says. */
  ignoreBackoff?: boolean;
  /** The agent ships nothing while this says so (a `gpu_monitor send` is at work). */
  skipWhile?: () => boolean;
}

export class Shipper {
  private readonly ledger: Ledger;
  private readonly target: UploadTarget;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly send: SendFunction;
  private readonly log: Logger;
  private draining: Promise<ShipResult[]> | null = null;
  private pausedUntil = 0;

  constructor(private readonly options: ShipperOptions) {
    const { config } = options;
    this.ledger = options.store.ledger;
    this.target = uploadTarget(config);
    this.now = options.now ?? (() => Date.now() / 1000);
    this.random = options.random ?? Math.random;
    this.send = options.send ?? sendUpload;
    this.log = options.logger.withTag("ship");
  }

  /** Starts draining unless a drain is under way; resolves when it ends. */
  kick(): Promise<ShipResult[]> {
    if (this.options.skipWhile?.()) return Promise.resolve([]);
    if (this.pausedUntil > this.now()) return Promise.resolve([]);
    this.draining ??= this.drain()
      .catch((error: Error) => {
        // The ledger could not be written (disk full, locked): back off instead of
        // sending the same window again on every tick.
        this.pausedUntil = this.now() + this.options.config.server.retry_initial_seconds;
        throw error;
      })
      .finally(() => (this.draining = null));
    return this.draining;
  }

  /** Waits for a drain in flight (on shutdown). */
  async settle(): Promise<void> {
    await this.draining;
  }

  private async drain(): Promise<ShipResult[]> {
    const results: ShipResult[] = [];
    for (;;) {
      const window = this.ledger.oldestPending();
      if (!window || this.options.stop?.aborted) break;
      const waiting = window.next_attempt_at !== null && window.next_attempt_at > this.now();
      if (waiting && !(this.options.ignoreBackoff && results.length === 0)) break; // waits its backoff, and so do newer ones
      const result = await this.attempt(window);
      results.push(result);
      if (result.outcome !== "sent" && result.state === "pending") break;
    }
    return results;
  }

  private async attempt(window: LedgerWindow): Promise<ShipResult> {
    const host = hostIdentity(this.ledger);
    const { store } = this.options;
    const identities = store.gpus.all();
    // Who used each GPU only when the host chose to tell (server.send_processes).
    const attribution = this.options.config.server.send_processes ? store.processes.window(window.start) : null;
    const gpus = [...store.windows.between(window.start, window.start + 1)].map((gpu) =>
      uploadGpu(identities.get(gpu.gpuId)!.identity, gpu, attribution),
    );
    const body = uploadBody(window.start, window.period_seconds, this.target.contractNumber, host, gpus);
    const attemptedAt = this.now();
    const result = await this.send(this.target, body, idempotencyKey(host.machineId, window.start), this.options.stop);
    if (this.options.stop?.aborted && result.outcome !== "sent") {
      // Interrupted by a shutdown or reload, not a failure: the window stays pending and
      // goes first on the next start, with the same Idempotency-Key.
      return { windowStart: window.start, outcome: "retryable", error: "interrupted by shutdown", serverUid: null, httpStatus: null, state: "pending", nextAttemptAt: null };
    }
    const settings = this.options.config.server;
    let state: ShipResult["state"] = "sent";
    let nextAttemptAt: number | null = null;
    let fatalCount = window.fatal_count;
    if (result.outcome !== "sent") {
      if (result.outcome === "fatal") fatalCount++;
      if (fatalCount >= settings.max_attempts) {
        state = "failed";
      } else {
        state = "pending";
        const delay = retryDelaySeconds(
          window.failed_attempts + 1,
          { initialSeconds: settings.retry_initial_seconds, maxSeconds: settings.retry_max_seconds },
          this.random(),
          result.retryAfterSeconds,
        );
        nextAttemptAt = attemptedAt + delay;
      }
    }
    this.ledger.recordAttempt(
      {
        window_start: window.start,
        attempted_at: Math.round(attemptedAt * 1000) / 1000,
        outcome: result.outcome,
        http_status: result.httpStatus,
        error: result.error,
        server_uid: result.serverUid,
        latency_ms: result.latencyMs,
      },
      { state, nextAttemptAt, fatalCount },
    );
    const when = formatTime(window.start);
    if (state === "sent") this.log.info(`window ${when} sent (uid ${result.serverUid}, ${result.latencyMs} ms)`);
    else if (state === "failed") this.log.error(`window ${when} failed for good after ${fatalCount} permanent failures: ${result.error}`);
    else this.log.warn(`window ${when} not sent: ${result.error}; next try in ${Math.ceil((nextAttemptAt ?? attemptedAt) - attemptedAt)} s`);
    return {
      windowStart: window.start,
      outcome: result.outcome,
      error: result.error,
      serverUid: result.serverUid,
      httpStatus: result.httpStatus,
      state,
      nextAttemptAt,
    };
  }
}

/** The host as the server sees it; the machine id never changes for a database. */
export function hostIdentity(ledger: Ledger): HostIdentity {
  let machineId = ledger.getMeta("machine_id");
  if (!machineId) {
    machineId = readMachineId() ?? crypto.randomUUID();
    ledger.setMeta("machine_id", machineId);
  }
  return {
    hostname: hostname(),
    machineId,
    agentVersion: VERSION,
    driverVersion: ledger.getMeta("driver_version"),
  };
}

function readMachineId(): string | null {
  for (const path of ["/etc/machine-id", "/var/lib/dbus/machine-id"]) {
    try {
      if (existsSync(path)) {
        const id = readFileSync(path, "utf8").trim();
        if (id) return id;
      }
    } catch {
      // unreadable: fall through
    }
  }
  return null;
}

/** Why the agent will or will not ship, for the start-up log line. */
export function shippingMode(config: Config, offline: boolean): string {
  if (offline) return "offline (-o): windows are queued, nothing is sent";
  if (!config.server.url) return "offline (no server.url): windows are queued, nothing is sent";
  return `shipping to ${redactUrlCredentials(config.server.url)}`;
}
