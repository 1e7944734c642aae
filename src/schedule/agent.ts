// The agent: samples every GPU at wall-clock multiples of the interval, stores
// each tick in one transaction, aggregates windows as they close, and prunes old
// data once a day. Failures are logged once per change of state, never per tick.

import { aggregateClosedWindows, aggregationPeriodSeconds, followTick } from "../aggregate/aggregator.ts";
import type { RunningWindow } from "../aggregate/running.ts";
import type { Config } from "../config/schema.ts";
import type { Logger } from "../log.ts";
import type { Nvml } from "../nvml/index.ts";
import { plainHttpWarning } from "../ship/http.ts";
import { Shipper, shippingMode, type SendFunction } from "../ship/shipper.ts";
import { Ledger } from "../store/ledger.ts";
import { acquireAgentLock, sendInProgress } from "../store/lock.ts";
import { pruneOldData } from "../store/retention.ts";
import { compactionPeriodSeconds, type SampleRow } from "../store/sampleBlocks.ts";
import { Store } from "../store/store.ts";
import { BoundaryCheck, nextTickMs, systemClock, type Clock } from "./clock.ts";
import { InProcessSampler, WorkerSampler, type TickSampler } from "./samplers.ts";

export interface AgentOptions {
  config: Config;
  logger: Logger;
  /** Stops the agent after the tick in flight. */
  stop: AbortSignal;
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
}

const PRUNE_EVERY_SECONDS = 86_400;
/** A backlog of blocks to compact (a database from before compaction) is worked off between ticks, this long per tick. */
const COMPACTION_BUDGET_MS = 100;
/** A step back of more than this is taken as the clock having been wrong before. */
const BIG_CLOCK_STEP_SECONDS = 3600;


/** Runs until `stop`; resolves with whether a thread stuck in NVML was left behind (then exit the process). */
export async function runAgent(options: AgentOptions): Promise<{ abandonedThread: boolean }> {
  const { config, logger, stop } = options;
  const clock = options.clock ?? systemClock;
  const log = logger.withTag("agent");
  const intervalMs = config.collection.interval_seconds * 1000;
  const settings = {
    periodSeconds: aggregationPeriodSeconds(config.collection),
    intervalSeconds: config.collection.interval_seconds,
  };

  const lock = acquireAgentLock(config.database.file);
  let store: Store;
  try {
    store = Store.open(config.database.file);
  } catch (error) {
    lock.release();
    throw error;
  }
  const offline = options.offline === true || !config.server.url;
  log.info(
    `started: database ${config.database.file}, sample every ${settings.intervalSeconds} s, windows of ${settings.periodSeconds} s, ${shippingMode(config, options.offline === true)}`,
  );
  const insecure = config.server.url ? plainHttpWarning(config.server.url) : null;
  if (insecure && !offline) log.warn(insecure);
  const shipper = offline
    ? null
    : new Shipper({
        store,
        config,
        logger,
        stop,
        ...(options.send ? { send: options.send } : {}),
        now: () => clock.now() / 1000,
        skipWhile: () => sendInProgress(config.database.file),
      });
  const ship = () => {
    shipper?.kick().catch((error: Error) => log.error(`shipping failed: ${error.message}`));
  };
  const ledger = new Ledger(store.db, store.file);
  const onReady = (driverVersion: string | null) => {
    try {
      if (driverVersion) ledger.setMeta("driver_version", driverVersion);
    } catch (error) {
      log.error(`driver version not stored: ${(error as Error).message}`);
    }
  };
  const nvmlLog = logger.withTag("nvml");
  const onEvent = (kind: string, gpuIndex: number | null, detail: string) => {
    try {
      store.recordEvent(Math.floor(clock.now() / 1000), kind, gpuIndex, detail);
    } catch (error) {
      log.error(`event not stored: ${(error as Error).message}`);
    }
  };
  const openStandIn = options.openNvml;
  const sampler: TickSampler = openStandIn
    ? new InProcessSampler(() => openStandIn(options.nvmlLibrary), nvmlLog, onReady, onEvent)
    : new WorkerSampler({
        libraryPath: options.nvmlLibrary,
        log: nvmlLog,
        onReady,
        // A healthy NVML answers in milliseconds; a tick waits at most 80 % of the interval, 10 s at most.
        deadlineMs: Math.min(10_000, intervalMs * 0.8),
        restartAfterMs: Math.max(120_000, 5 * intervalMs),
        now: () => clock.now(),
        onEvent,
        stop,
      });
  let lastTickTs = store.latestSampleTs() ?? 0;
  let lastPruneTs = 0;
  let pruning: Promise<void> | null = null;

  // The open window, aggregated as its ticks are stored (running.ts).
  let running: RunningWindow | null = null;
  const followStoredTick = (tickTs: number, rows: SampleRow[]): RunningWindow | null => {
    try {
      return followTick(store, running, tickTs, rows, settings);
    } catch (error) {
      log.error(`following the window failed (it is aggregated from the database instead): ${(error as Error).message}`);
      return null;
    }
  };
  let compactionFailure: string | null = null;
  // Spans are compacted every 10 minutes (hourly at long intervals) and windows close at their boundaries:
  // between those, a tick skips both checks.
  const compaction = new BoundaryCheck(compactionPeriodSeconds(settings.intervalSeconds));
  const windows = new BoundaryCheck(settings.periodSeconds);
  const aggregate = (nowSeconds: number) => {
    if (compaction.due(nowSeconds)) {
      try {
        // Closed block spans (10 minutes): no tick writes into them any more, and reads decode them faster than rows.
        const compacted = store.compactBlocks(nowSeconds, { budgetMs: COMPACTION_BUDGET_MS });
        if (compactionFailure !== null) log.info("compacting raw samples works again");
        compactionFailure = null;
        if (compacted > 0) {
          log.debug(`compacted ${compacted} span(s) of raw samples into blocks`);
          compaction.unsettled(); // a backlog is worked off a budget per tick
        } else {
          compaction.settled(nowSeconds);
        }
      } catch (error) {
        // Once per change of state: a span that cannot be compacted would otherwise be reported every tick.
        const message = (error as Error).message;
        if (message !== compactionFailure) log.error(`compacting raw samples failed (they stay as rows, and are read as such): ${message}`);
        compactionFailure = message;
        compaction.unsettled();
      }
    }
    if (windows.due(nowSeconds)) {
      try {
        const written = aggregateClosedWindows(store, nowSeconds, settings, running);
        if (written.length > 0) {
          log.debug(`aggregated ${written.length} window(s), last at ${written.at(-1)}`);
          windows.unsettled(); // a long catch-up is capped per call
        } else {
          windows.settled(nowSeconds);
        }
      } catch (error) {
        log.error(`aggregation failed: ${(error as Error).message}`);
        windows.unsettled();
      }
    }
  };
  const prune = (nowSeconds: number) => {
    if (pruning || nowSeconds - lastPruneTs < PRUNE_EVERY_SECONDS) return;
    lastPruneTs = nowSeconds;
    pruning = pruneOldData(
      store,
      nowSeconds,
      { rawDays: config.retention.raw_days, aggregatedDays: config.retention.aggregated_days },
      { stop },
    )
      .then((result) => {
        if (result.samples + result.windows > 0) {
          log.info(`retention: deleted ${result.samples} raw sample(s) and ${result.windows} window(s)`);
        }
      })
      .catch((error: Error) => log.error(`retention failed: ${error.message}`))
      .finally(() => (pruning = null));
  };

  let abandonedThread = false;
  aggregate(Math.floor(clock.now() / 1000)); // windows closed while the agent was down
  prune(Math.floor(clock.now() / 1000));
  ship();
  options.onStarted?.();

  try {
    while (!stop.aborted) {
      const dueMs = nextTickMs(clock.now(), intervalMs);
      await clock.sleep(dueMs - clock.now(), stop);
      if (stop.aborted) break;
      const nowMs = clock.now();
      if (nowMs < dueMs) continue; // woke early (clock stepped back): aim again
      const tickTs = Math.floor(dueMs / 1000);
      if (nowMs - dueMs > intervalMs) {
        // Suspended, paused or the clock jumped ahead: no catch-up burst, the gap shows as lower coverage.
        log.warn(`missed the tick at ${new Date(dueMs).toISOString()} (woke ${Math.round((nowMs - dueMs) / 1000)} s late)`);
        continue;
      }
      if (tickTs <= lastTickTs) {
        // The clock went back. A small step: skip, never write over recorded time.
        // A big one means the stored future was the mistake (a bad clock at boot):
        // say so once and go on storing from now.
        if (lastTickTs - tickTs <= BIG_CLOCK_STEP_SECONDS) continue;
        log.warn(
          `the clock is ${lastTickTs - tickTs} s behind the newest stored sample (${new Date(lastTickTs * 1000).toISOString()}): it was wrong then or is wrong now; storing from now on`,
        );
        lastTickTs = 0;
      }
      let rows: SampleRow[] | null = null;
      try {
        const sample = await sampler.sample(dueMs);
        if (sample) {
          rows = store.writeTick(tickTs, sample);
          lastTickTs = tickTs;
        }
      } catch (error) {
        log.error(`tick at ${new Date(dueMs).toISOString()} not stored: ${(error as Error).message}`);
      }
      aggregate(tickTs);
      // After aggregate(): the first tick of a window replaces the running window that was just closed.
      if (rows) running = followStoredTick(tickTs, rows);
      prune(tickTs);
      ship();
    }
  } finally {
    await shipper?.settle();
    await pruning;
    abandonedThread = await sampler.close();
    store.close();
    lock.release();
    log.info("stopped");
  }
  return { abandonedThread };
}
