// The agent: samples every GPU at wall-clock multiples of the interval, stores
// each tick in one transaction, aggregates windows as they close, and prunes old
// data once a day. Failures are logged once per change of state, never per tick.

import { aggregateClosedWindows, aggregationPeriodSeconds } from "../aggregate/aggregator.ts";
import { ProcessNameCache, osProcessNameLookup } from "../collect/processNames.ts";
import { takeSample, type GpuSample } from "../collect/sample.ts";
import type { Config } from "../config/schema.ts";
import type { Logger } from "../log.ts";
import { NvmlError, NvmlUnavailableError, openNvml, type Nvml } from "../nvml/index.ts";
import { plainHttpWarning } from "../ship/http.ts";
import { Shipper, shippingMode, type SendFunction } from "../ship/shipper.ts";
import { Ledger } from "../store/ledger.ts";
import { acquireAgentLock } from "../store/lock.ts";
import { pruneOldData } from "../store/retention.ts";
import { Store } from "../store/store.ts";
import { nextTickMs, systemClock, type Clock } from "./clock.ts";

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

/** GPU failures that mean the driver, not the GPU: a new NVML session is needed. */
const DRIVER_LEVEL = new Set([
  "NVML_ERROR_LIB_RM_VERSION_MISMATCH",
  "NVML_ERROR_DRIVER_NOT_LOADED",
  "NVML_ERROR_UNINITIALIZED",
]);

export async function runAgent(options: AgentOptions): Promise<void> {
  const { config, logger, stop } = options;
  const clock = options.clock ?? systemClock;
  const open = options.openNvml ?? ((libraryPath) => openNvml({ libraryPath }));
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
    : new Shipper({ store, config, logger, stop, ...(options.send ? { send: options.send } : {}), now: () => clock.now() / 1000 });
  const ship = () => {
    shipper?.kick().catch((error: Error) => log.error(`shipping failed: ${error.message}`));
  };
  const ledger = new Ledger(store.db, store.file);
  const sampler = new Sampler(open, options.nvmlLibrary, logger.withTag("nvml"), (driverVersion) => {
    if (driverVersion) ledger.setMeta("driver_version", driverVersion);
  });
  let lastTickTs = store.latestSampleTs() ?? 0;
  let lastPruneTs = 0;
  let pruning: Promise<void> | null = null;

  const aggregate = (nowSeconds: number) => {
    try {
      const written = aggregateClosedWindows(store, nowSeconds, settings);
      if (written.length > 0) log.debug(`aggregated ${written.length} window(s), last at ${written.at(-1)}`);
    } catch (error) {
      log.error(`aggregation failed: ${(error as Error).message}`);
    }
  };
  const prune = (nowSeconds: number) => {
    if (pruning || nowSeconds - lastPruneTs < PRUNE_EVERY_SECONDS) return;
    lastPruneTs = nowSeconds;
    pruning = pruneOldData(store, nowSeconds, {
      rawDays: config.retention.raw_days,
      aggregatedDays: config.retention.aggregated_days,
    })
      .then((result) => {
        if (result.samples + result.windows > 0) {
          log.info(`retention: deleted ${result.samples} raw sample(s) and ${result.windows} window(s)`);
        }
      })
      .catch((error: Error) => log.error(`retention failed: ${error.message}`))
      .finally(() => (pruning = null));
  };

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
      if (tickTs <= lastTickTs) continue; // the clock went back: never write over recorded time
      const sample = sampler.sample(dueMs);
      if (sample) {
        try {
          store.writeTick(tickTs, sample);
          lastTickTs = tickTs;
        } catch (error) {
          log.error(`tick at ${new Date(dueMs).toISOString()} not stored: ${(error as Error).message}`);
        }
      }
      aggregate(tickTs);
      prune(tickTs);
      ship();
    }
  } finally {
    await shipper?.settle();
    await pruning;
    sampler.close();
    store.close();
    lock.release();
    log.info("stopped");
  }
}

/** Owns the NVML session: opens it when it can, reopens it after the driver goes away. */
class Sampler {
  private nvml: Nvml | null = null;
  private names: ProcessNameCache | null = null;
  private lastProblem: string | null = null;
  private readonly gpuProblems = new Map<number, string>();

  constructor(
    private readonly open: (libraryPath: string | undefined) => Nvml,
    private readonly libraryPath: string | undefined,
    private readonly log: Logger,
    private readonly onReady: (driverVersion: string | null) => void,
  ) {}

  /** Every GPU's reading for this tick, or null when NVML cannot be used now. */
  sample(atMs: number): GpuSample[] | null {
    const nvml = this.session();
    if (!nvml) return null;
    try {
      const sample = takeSample(nvml, this.names!, () => new Date(atMs));
      this.reportGpuProblems(sample.failures);
      if (sample.gpus.length === 0 && sample.failures.length > 0 && sample.failures.every((f) => DRIVER_LEVEL.has(f.code))) {
        // Every GPU says the driver itself changed or went away: start a new NVML session.
        this.problem(`every GPU failed with ${sample.failures[0]!.code}; reinitialising NVML`);
        this.close();
      }
      return sample.gpus;
    } catch (error) {
      if (!(error instanceof NvmlError) && !(error instanceof NvmlUnavailableError)) throw error;
      this.problem(`NVML stopped answering (${error.message}); reconnecting`);
      this.close();
      return null;
    }
  }

  close(): void {
    this.nvml?.close();
    this.nvml = null;
    this.names = null;
  }

  private session(): Nvml | null {
    if (this.nvml) return this.nvml;
    try {
      const nvml = this.open(this.libraryPath);
      this.nvml = nvml;
      this.names = new ProcessNameCache(osProcessNameLookup(), (pid) => nvml.processName(pid));
      const host = nvml.host();
      this.onReady(host.driverVersion);
      this.log.info(`NVML ready: ${nvml.libraryPath}, driver ${host.driverVersion ?? "unknown"}, ${nvml.deviceCount()} GPU(s)`);
      this.lastProblem = null;
      return nvml;
    } catch (error) {
      this.problem(`${(error as Error).message}; retrying every tick`);
      return null;
    }
  }

  private problem(message: string): void {
    if (message !== this.lastProblem) this.log.error(message);
    this.lastProblem = message;
  }

  private reportGpuProblems(failures: ReadonlyArray<{ index: number; code: string; message: string }>): void {
    const failing = new Set(failures.map((failure) => failure.index));
    for (const failure of failures) {
      if (this.gpuProblems.get(failure.index) !== failure.code) this.log.error(failure.message);
      this.gpuProblems.set(failure.index, failure.code);
    }
    for (const index of this.gpuProblems.keys()) {
      if (!failing.has(index)) {
        this.log.info(`GPU ${index} is readable again`);
        this.gpuProblems.delete(index);
      }
    }
  }
}
