// The agent: samples every GPU at wall-clock multiples of the interval, stores
// each tick in one transaction, compacts closed spans, aggregates windows as they
// close, prunes old data once a day and ships. Failures are logged once per
// change of state, never per tick. While the database cannot take writes (another
// program holds its lock, the disk is full) sampling goes on and the ticks wait in
// memory; a damaged database stops the agent with the message the open gives.

import { aggregateClosedWindows, aggregationPeriodSeconds, type AggregationSettings } from "../aggregate/aggregator.ts";
import { ProcessAttribution, saltedHash } from "../aggregate/attribution.ts";
import { readBootId } from "../collect/processOwners.ts";
import type { Config } from "../config/schema.ts";
import type { Logger } from "../log.ts";
import { gpuValues, sampleValues } from "../metrics/catalog.ts";
import type { Nvml } from "../nvml/index.ts";
import { plainHttpWarning } from "../ship/http.ts";
import { Shipper, shippingMode, type SendFunction } from "../ship/shipper.ts";
import { compactionPeriodSeconds } from "../store/blocks.ts";
import { asStoreError, StoreError } from "../store/database.ts";
import type { EventFacts } from "../store/events.ts";
import { acquireAgentLock, sendInProgress, type AgentLock } from "../store/lock.ts";
import { pruneOldData } from "../store/retention.ts";
import { Store } from "../store/store.ts";
import type { MetricsRecorder } from "../prometheus/recorder.ts";
import { formatTime } from "../util/time.ts";
import { backlogCapacity, TickBacklog } from "./backlog.ts";
import { nextTickMs, systemClock, type Clock } from "./clock.ts";
import { InProcessSampler, WorkerSampler, type EventSink, type TickReadings, type TickSampler } from "./samplers.ts";

export interface AgentOptions {
  config: Config;
  logger: Logger;
  /** Stops the agent after the tick in flight. */
  stop: AbortSignal;
  /**
   * Aborted when the process exits after this stop: the database is then closed without
   * its checkpoint, a write that a frozen filesystem would hold, and the process with it,
   * until it thaws. The WAL keeps every commit.
   */
  exiting?: AbortSignal;
  /** -o: collect and aggregate, send nothing. */
  offline?: boolean;
  /** Replaces the HTTP attempt in tests of this loop. */
  send?: SendFunction;
  /** Called once the agent is up (database open, missed windows aggregated): systemd's READY=1. */
  onStarted?: () => void;
  nvmlLibrary?: string | undefined;
  clock?: Clock;
  /** Replaces openNvml in tests of this loop. */
  openNvml?: (libraryPath: string | undefined) => Nvml;
  /** What the Prometheus endpoint serves, kept up to date tick by tick. */
  metrics?: MetricsRecorder;
}

const PRUNE_EVERY_SECONDS = 86_400;
/** A backlog of spans to compact (a database from before compaction) is worked off between ticks, this long per tick. */
const COMPACTION_BUDGET_MS = 100;
/** A step back of more than this is taken as the clock having been wrong before. */
const BIG_CLOCK_STEP_SECONDS = 3600;
/** Timers run late by a few ms; a wall clock that moved this much less than the time slept was stepped back. */
const CLOCK_STEP_TOLERANCE_MS = 1000;
/**
 * How long a statement waits for another program's write lock. Short: the loop (and a
 * SIGTERM) never waits longer on a lock, and the ticks wait in memory instead.
 */
export const AGENT_BUSY_TIMEOUT_MS = 200;

/** Runs until `stop`; resolves with whether a thread stuck in NVML was left behind (then exit the process). */
export async function runAgent(options: AgentOptions): Promise<{ abandonedThread: boolean }> {
  return Agent.open(options).run();
}

export class Agent {
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly settings: AggregationSettings;
  private readonly compactionPeriod: number;
  private readonly shipper: Shipper | null;
  private readonly sampler: TickSampler;
  private lastTickTs: number;
  private lastPruneTs = 0;
  private pruning: Promise<void> | null = null;
  private compactionFailure: string | null = null;
  private aggregationFailure: string | null = null;
  /** Ticks read but not stored yet: the database was locked or full. */
  private readonly backlog: TickBacklog;
  /** Why storing ticks fails, while it does: logged once per change. */
  private writeFailure: string | null = null;
  /** Damage found in the database mid-run: the agent stops, and run() throws it. */
  private damaged: StoreError | null = null;
  private readonly halt = new AbortController();
  /** Who used each GPU, tick by tick; null when collection.processes is "off". */
  private readonly attribution: ProcessAttribution | null;

  private constructor(
    private readonly options: AgentOptions,
    private readonly store: Store,
    private readonly lock: AgentLock,
  ) {
    const { config, logger, stop } = options;
    this.log = logger.withTag("agent");
    this.clock = options.clock ?? systemClock;
    this.settings = { periodSeconds: aggregationPeriodSeconds(config.collection), intervalSeconds: config.collection.interval_seconds };
    this.compactionPeriod = compactionPeriodSeconds(this.settings.intervalSeconds);
    this.backlog = new TickBacklog(backlogCapacity(this.settings.intervalSeconds));
    this.lastTickTs = store.samples.latestTs() ?? 0;
    const mode = config.collection.processes;
    this.attribution = mode === "off" ? null : new ProcessAttribution(mode, mode === "hashed" ? saltedHash(store.processes.salt()) : (value) => value, readBootId());
    const offline = options.offline === true || !config.server.url;
    this.log.info(
      `started: database ${config.database.file}, sample every ${this.settings.intervalSeconds} s, windows of ${this.settings.periodSeconds} s, ${shippingMode(config, options.offline === true)}`,
    );
    const insecure = config.server.url ? plainHttpWarning(config.server.url) : null;
    if (insecure && !offline) this.log.warn(insecure);
    this.shipper = offline
      ? null
      : new Shipper({
          store,
          config,
          logger,
          stop,
          ...(options.send ? { send: options.send } : {}),
          now: () => this.clock.now() / 1000,
          skipWhile: () => sendInProgress(config.database.file),
        });
    this.sampler = this.openSampler();
  }

  /** Takes the database's agent lock and opens the database. */
  static open(options: AgentOptions): Agent {
    const file = options.config.database.file;
    const lock = acquireAgentLock(file);
    let store: Store | null = null;
    try {
      store = Store.open(file, { busyTimeoutMs: AGENT_BUSY_TIMEOUT_MS });
      return new Agent(options, store, lock);
    } catch (error) {
      store?.close();
      lock.release();
      throw asStoreError(error, file);
    }
  }

  async run(): Promise<{ abandonedThread: boolean }> {
    // Stopped from outside, or by damage found in the database.
    const stop = AbortSignal.any([this.options.stop, this.halt.signal]);
    const intervalMs = this.settings.intervalSeconds * 1000;
    this.catchUp(this.nowSeconds()); // windows closed while the agent was down
    if (!stop.aborted) this.options.onStarted?.();
    let abandonedThread = false;
    try {
      // The wall clock against monotonic time since the last look: a step shows as their difference.
      let wallMark = this.clock.now();
      let monotonicMark = this.clock.monotonic();
      while (!stop.aborted) {
        const dueMs = nextTickMs(this.clock.now(), intervalMs);
        await this.clock.sleep(dueMs - this.clock.now(), stop);
        if (stop.aborted) break;
        const nowMs = this.clock.now();
        const monotonicMs = this.clock.monotonic();
        const stepMs = nowMs - wallMark - (monotonicMs - monotonicMark);
        wallMark = nowMs;
        monotonicMark = monotonicMs;
        if (stepMs < -CLOCK_STEP_TOLERANCE_MS) this.clockWentBack(-stepMs, nowMs);
        if (nowMs < dueMs) continue; // woke early (clock stepped back): aim again
        if (nowMs - dueMs > intervalMs) {
          // Suspended, paused or the clock jumped ahead: no catch-up burst, the gap shows as lower coverage.
          this.log.warn(`missed the tick at ${new Date(dueMs).toISOString()} (woke ${Math.round((nowMs - dueMs) / 1000)} s late)`);
          continue;
        }
        await this.tick(dueMs);
      }
    } finally {
      abandonedThread = await this.close();
    }
    if (this.damaged) throw this.damaged;
    return { abandonedThread };
  }

  /**
   * Says once per step that the wall clock went back, by how much, and when
   * storing resumes: never before the newest stored sample, so none is written
   * over (a step of more than an hour is taken as the stored future being wrong:
   * see tick).
   */
  private clockWentBack(byMs: number, nowMs: number): void {
    const by = Math.round(byMs / 1000);
    const behind = this.lastTickTs - Math.floor(nowMs / 1000);
    const intervalSeconds = this.settings.intervalSeconds;
    const resumes =
      behind < 0
        ? "storing goes on"
        : behind > BIG_CLOCK_STEP_SECONDS
          ? "the stored future is taken as the mistake: storing goes on from now"
          : `nothing is stored until the clock passes the newest sample (${formatTime(this.lastTickTs)}): storing resumes at ${formatTime(this.lastTickTs + intervalSeconds)}, in about ${behind + intervalSeconds} s`;
    const message = `the clock went back by ${by} s, to ${formatTime(Math.floor(nowMs / 1000))}; ${resumes}`;
    this.log.warn(message);
    try {
      this.store.events.record(Math.floor(nowMs / 1000), "clock_back", null, message, { code: by });
    } catch (error) {
      this.log.error(`event not stored: ${(error as Error).message}`);
    }
  }

  /** One tick: sample and store, then the work that follows from the clock. */
  private async tick(dueMs: number): Promise<void> {
    const tickTs = Math.floor(dueMs / 1000);
    if (tickTs <= this.lastTickTs) {
      // The clock went back. A small step: skip, never write over recorded time.
      // A big one means the stored future was the mistake (a bad clock at boot):
      // say so once and go on storing from now.
      if (this.lastTickTs - tickTs <= BIG_CLOCK_STEP_SECONDS) return;
      this.log.warn(
        `the clock is ${this.lastTickTs - tickTs} s behind the newest stored sample (${new Date(this.lastTickTs * 1000).toISOString()}): it was wrong then or is wrong now; storing from now on`,
      );
      this.lastTickTs = 0;
    }
    const startedMs = this.clock.monotonic();
    let read = false;
    try {
      const readings = await this.sampler.sample(dueMs);
      if (readings) {
        // Served as read, before storing: a locked or full disk does not hide the GPUs from the endpoint.
        this.options.metrics?.tick(tickTs, readings.gpus, readings.failures);
        this.keep(tickTs, readings);
        this.lastTickTs = tickTs;
        read = true;
      }
    } catch (error) {
      this.log.error(`tick at ${new Date(dueMs).toISOString()} not read: ${(error as Error).message}`);
    }
    const stored = this.storeKept();
    if (read) this.options.metrics?.tickTook((this.clock.monotonic() - startedMs) / 1000);
    // What follows from the ticks (compaction, windows) waits until they are stored.
    if (stored) this.catchUp(tickTs);
    if (this.options.metrics) this.recordLedger(this.options.metrics);
  }

  /** The send ledger for the metrics endpoint, read here so that a scrape never reads the database. */
  private recordLedger(metrics: MetricsRecorder): void {
    try {
      metrics.ledger(this.store.ledger.unsentCounts(), this.store.ledger.lastAttempt());
    } catch {
      // the tick's own error says what is wrong with the database
    }
  }

  private keep(tickTs: number, readings: TickReadings): void {
    const processes = this.attribution?.tick(tickTs, this.settings.intervalSeconds, readings.gpus) ?? null;
    const droppedOldest = this.backlog.push({
      ts: tickTs,
      gpus: [
        ...readings.gpus.map((gpu, i) => ({ identity: gpuValues(gpu), values: sampleValues(gpu), ...(processes ? { processes: processes[i]! } : {}) })),
        // Present but unreadable: no sample, so its windows show the time as unavailable.
        ...readings.unreadable.map((gpu) => ({ identity: gpuValues(gpu), values: null })),
      ],
    });
    if (droppedOldest && this.backlog.dropped === 1) {
      this.log.warn(`${this.backlog.capacity} ticks wait in memory for the database: from now on the oldest is dropped at each tick`);
    }
  }

  /** Stores the ticks kept, this one included, in one transaction; false while the database cannot take them. */
  private storeKept(): boolean {
    const count = this.backlog.size;
    if (count === 0) return true;
    try {
      this.store.samples.writeTicks(this.backlog.pending());
    } catch (error) {
      const failure = this.storeFailure(error);
      if (this.damaged) return false;
      if (failure instanceof StoreError && (failure.fault === "busy" || failure.fault === "full" || failure.fault === "unwritable")) {
        if (failure.message !== this.writeFailure) {
          this.log.error(`${failure.message}; sampling goes on: the ticks wait in memory (up to ${this.backlog.capacity}, an hour) and are stored once it takes writes`);
        }
        this.writeFailure = failure.message;
        return false;
      }
      // Waiting would not help these ticks: they are given up, as they were before.
      this.log.error(`${count} tick(s) not stored: ${failure.message}`);
      this.backlog.clear();
      return true;
    }
    const dropped = this.backlog.clear();
    if (this.writeFailure !== null) {
      const note = `the database takes writes again: stored ${count} tick(s) kept in memory${dropped > 0 ? `; the ${dropped} oldest were dropped` : ""}`;
      this.log.info(note);
      this.recordEvent("store_resumed", null, note, this.nowSeconds());
    }
    this.writeFailure = null;
    return true;
  }

  /** The store's error for `error`; damage in the database also stops the agent (run() throws it). */
  private storeFailure(error: unknown): Error {
    const failure = asStoreError(error, this.options.config.database.file);
    if (failure instanceof StoreError && failure.fault === "corrupt" && !this.damaged) {
      this.damaged = failure;
      this.log.error(`${failure.message}; stopping`);
      this.halt.abort();
    }
    return failure;
  }

  /** What is due by `nowSeconds`: closed spans compacted, closed windows aggregated, old data pruned, windows shipped. */
  private catchUp(nowSeconds: number): void {
    this.compact(nowSeconds);
    this.closeWindows(nowSeconds);
    this.prune(nowSeconds);
    this.ship();
  }

  /** Spans closed by the last compaction boundary become blocks: no tick writes into them any more. */
  private compact(nowSeconds: number): void {
    try {
      const until = Math.floor(nowSeconds / this.compactionPeriod) * this.compactionPeriod;
      const { spans, more } = this.store.samples.compact(until, COMPACTION_BUDGET_MS);
      if (this.compactionFailure !== null) this.log.info("compacting raw samples works again");
      this.compactionFailure = null;
      if (spans > 0) this.log.debug(`compacted ${spans} span(s) of raw samples into blocks${more ? "; more on the next tick" : ""}`);
    } catch (error) {
      // Once per change of state: a span that cannot be compacted would otherwise be reported every tick.
      const message = this.storeFailure(error).message;
      if (this.damaged) return;
      if (message !== this.compactionFailure) this.log.error(`compacting raw samples failed (they stay as rows, and are read as such): ${message}`);
      this.compactionFailure = message;
    }
  }

  private closeWindows(nowSeconds: number): void {
    try {
      const written = aggregateClosedWindows(this.store, nowSeconds, this.settings);
      if (written.length > 0) this.log.debug(`aggregated ${written.length} window(s), last at ${written.at(-1)}`);
      this.aggregationFailure = null;
    } catch (error) {
      const message = this.storeFailure(error).message;
      if (this.damaged) return;
      if (message !== this.aggregationFailure) this.log.error(`aggregation failed (tried again each tick): ${message}`);
      this.aggregationFailure = message;
    }
  }

  private prune(nowSeconds: number): void {
    if (this.pruning || nowSeconds - this.lastPruneTs < PRUNE_EVERY_SECONDS) return;
    this.lastPruneTs = nowSeconds;
    const { retention } = this.options.config;
    this.pruning = pruneOldData(this.store, nowSeconds, { rawDays: retention.raw_days, aggregatedDays: retention.aggregated_days }, { stop: this.options.stop })
      .then((result) => {
        if (result.samples + result.windows > 0) this.log.info(`retention: deleted ${result.samples} raw sample(s) and ${result.windows} window(s)`);
      })
      .catch((error: Error) => {
        const message = this.storeFailure(error).message;
        if (!this.damaged) this.log.error(`retention failed: ${message}`);
      })
      .finally(() => (this.pruning = null));
  }

  private ship(): void {
    this.shipper?.kick().catch((error: Error) => {
      const message = this.storeFailure(error).message;
      if (!this.damaged) this.log.error(`shipping failed: ${message}`);
    });
  }

  private openSampler(): TickSampler {
    const { options } = this;
    const nvmlLog = options.logger.withTag("nvml");
    const onReady = (driverVersion: string | null, nvmlVersion: string | null) => {
      options.metrics?.driver(driverVersion, nvmlVersion);
      try {
        if (driverVersion) this.store.ledger.setMeta("driver_version", driverVersion);
      } catch (error) {
        const message = this.storeFailure(error).message;
        if (!this.damaged) this.log.error(`driver version not stored: ${message}`);
      }
    };
    const onEvent: EventSink = (kind, gpuIndex, detail, facts = {}) => {
      if (kind === "xid" && facts.uuid && typeof facts.code === "number") options.metrics?.xid(facts.uuid, facts.code);
      this.recordEvent(kind, gpuIndex, detail, facts.atMs === undefined ? this.nowSeconds() : Math.floor(facts.atMs / 1000), facts);
    };
    const standIn = options.openNvml;
    const lookUpOwners = options.config.collection.processes !== "off";
    const intervalMs = this.settings.intervalSeconds * 1000;
    if (standIn) return new InProcessSampler(() => standIn(options.nvmlLibrary), nvmlLog, onReady, onEvent, intervalMs, lookUpOwners);
    return new WorkerSampler({
      libraryPath: options.nvmlLibrary,
      log: nvmlLog,
      onReady,
      // A healthy NVML answers in milliseconds; a tick waits at most 80 % of the interval, 10 s at most.
      deadlineMs: Math.min(10_000, intervalMs * 0.8),
      intervalMs,
      restartAfterMs: Math.max(120_000, 5 * intervalMs),
      now: () => this.clock.now(),
      onEvent,
      stop: options.stop,
      lookUpOwners,
    });
  }

  private recordEvent(kind: string, gpuIndex: number | null, detail: string, ts: number, facts: EventFacts = {}): void {
    try {
      this.store.events.record(ts, kind, gpuIndex, detail, facts);
    } catch (error) {
      const message = this.storeFailure(error).message;
      if (!this.damaged) this.log.error(`event not stored: ${message}`);
    }
  }


  private nowSeconds(): number {
    return Math.floor(this.clock.now() / 1000);
  }

  /** Lets a send and a prune in flight finish, stops sampling, closes the database. Resolves whether a thread stuck in NVML was abandoned. */
  private async close(): Promise<boolean> {
    await this.shipper?.settle();
    await this.pruning;
    const abandonedThread = await this.sampler.close();
    // One last try (at most the busy timeout) for ticks that waited for the database.
    const kept = this.backlog.size;
    if (kept > 0 && !this.damaged && !this.storeKept()) this.log.error(`${kept} tick(s) kept in memory are lost: ${this.writeFailure}`);
    this.store.close({ checkpoint: !this.options.exiting?.aborted });
    this.lock.release();
    this.log.info("stopped");
    return abandonedThread;
  }
}
