// The agent's life as a service: signals (SIGTERM/SIGINT stop, SIGHUP reloads
// the config and reopens the log), systemd's notifications, and the restart of
// the agent with a reloaded config (or back to the one before, when the new one
// cannot run).

import { defaultSources, loadConfig, type LoadedConfig } from "../config/load.ts";
import { consoleColour, createLogger, effectiveLevel, RotatingLogFile, type Logger } from "../log.ts";
import { SystemdNotifier } from "../platform/systemd.ts";
import { hostname } from "node:os";
import { MetricsRecorder } from "../prometheus/recorder.ts";
import { isLoopback, parseListen, startMetricsServer, type MetricsServer } from "../prometheus/server.ts";
import { VERSION } from "../version.ts";
import { runAgent } from "./agent.ts";
import { agentClock } from "./clock.ts";

export interface AgentFlags {
  config?: string | undefined;
  offline?: boolean | undefined;
  verbose?: boolean | undefined;
  logLevel?: string | undefined;
  nvmlLibrary?: string | undefined;
  /** --metrics-listen: wins over metrics.listen. */
  metricsListen?: string | undefined;
}

/**
 * After SIGTERM or SIGINT the process exits within this long, whatever it still waits
 * for: a write that has not returned is abandoned (SQLite's journal keeps the database
 * consistent, as after a crash), so a service manager never has to kill it.
 */
export const STOP_DEADLINE_MS = 1500;

/** Stand-ins for tests of the stop path. */
export interface LifecycleDependencies {
  runAgent?: typeof runAgent;
  exit?: (code: number) => void;
}

/**
 * Runs the agent until SIGTERM or SIGINT, then returns (exit 0). SIGHUP reloads
 * the config (a bad one is reported and the running one kept) and reopens the log
 * file: the agent finishes its tick, closes the database and starts again with it.
 */
export async function startAgent(
  flags: AgentFlags,
  loadedConfig: LoadedConfig,
  nvmlLibrary: (loaded: LoadedConfig) => string | undefined,
  dependencies: LifecycleDependencies = {},
): Promise<void> {
  const run = dependencies.runAgent ?? runAgent;
  const exit = dependencies.exit ?? ((code: number) => process.exit(code));
  let loaded = loadedConfig;
  let logFile: RotatingLogFile | null = null;
  const makeLogger = (current: LoadedConfig): Logger => {
    const { logging } = current.config;
    const warn = (message: string) => process.stderr.write(`gpu_monitor: warning: ${message}\n`);
    logFile = logging.file
      ? new RotatingLogFile({ path: logging.file, maxBytes: logging.max_size_mb * 1_000_000, maxFiles: logging.max_files }, warn)
      : null;
    return createLogger(effectiveLevel(logging.level, flags), { colour: consoleColour(), file: logFile });
  };
  let logger = makeLogger(loaded);
  const systemd = systemdNotifier(logger);
  let watchdog: ReturnType<typeof setInterval> | null = null;
  const onStarted = () => {
    systemd?.notify(`READY=1\nSTATUS=sampling every ${loaded.config.collection.interval_seconds} s`);
    // A timer, not the tick: it only fires while the event loop is alive, so a hang gets us restarted.
    if (systemd?.watchdogIntervalMs && !watchdog) watchdog = setInterval(() => systemd.notify("WATCHDOG=1"), systemd.watchdogIntervalMs);
  };
  const stopWatchdog = () => {
    if (watchdog) clearInterval(watchdog);
    watchdog = null;
  };
  const shutdown = new AbortController();
  let cycle = new AbortController();
  let reload: LoadedConfig | null = null;
  let stopDeadline: ReturnType<typeof setTimeout> | null = null;
  const onStop = (signal: NodeJS.Signals) => {
    logger.info(`${signal} received: finishing the tick in flight`);
    // A timer, so it fires while the loop waits on anything; unref'd, so it never holds a finished stop.
    stopDeadline ??= setTimeout(() => {
      logger.warn(`still stopping after ${STOP_DEADLINE_MS / 1000} s: exiting without waiting (a write in flight is left to SQLite's journal)`);
      exit(0);
    }, STOP_DEADLINE_MS);
    stopDeadline.unref?.();
    // From STOPPING=1 on, the stop is bounded by TimeoutStopSec=: no keep-alive follows it while the
    // tick in flight finishes (one did, when finishing took longer than the keep-alive period).
    stopWatchdog();
    systemd?.notify("STOPPING=1");
    shutdown.abort();
    cycle.abort();
  };
  const onHangUp = () => {
    (logFile as RotatingLogFile | null)?.reopen();
    try {
      reload = loadConfig(defaultSources(flags.config || undefined));
      for (const warning of reload.warnings) logger.warn(warning);
      logger.info(`SIGHUP: config reloaded from ${reload.file ?? "defaults"}; restarting after the tick in flight`);
      systemd?.notify("RELOADING=1");
      cycle.abort();
    } catch (error) {
      logger.error(`SIGHUP: config not reloaded, the running one is kept: ${(error as Error).message}`);
    }
  };
  process.on("SIGTERM", onStop);
  process.on("SIGINT", onStop);
  process.on("SIGHUP", onHangUp);
  const endpoint = startMetrics(flags, loaded, logger);
  let fallback: LoadedConfig | null = null; // the config that ran before a reload
  const clock = agentClock();
  try {
    for (;;) {
      let outcome: Awaited<ReturnType<typeof runAgent>>;
      try {
        outcome = await run({
          config: loaded.config,
          logger,
          stop: cycle.signal,
          exiting: shutdown.signal,
          offline: flags.offline === true || loaded.offline,
          nvmlLibrary: nvmlLibrary(loaded),
          onStarted,
          ...(endpoint ? { metrics: endpoint.recorder } : {}),
          clock,
        });
      } catch (error) {
        if (!fallback || shutdown.signal.aborted) throw error;
        // The reloaded config parses but cannot run (its database cannot be opened, say).
        logger.error(`the reloaded config cannot run (${(error as Error).message}); going back to the previous one`);
        loaded = fallback;
        fallback = null;
        cycle = new AbortController();
        logger = makeLogger(loaded);
        continue;
      }
      fallback = null;
      if (outcome.abandonedThread) {
        // A Worker blocked inside an NVML call cannot be stopped and would keep the process alive.
        logger.warn("an NVML call never returned: exiting without waiting for it");
        if (shutdown.signal.aborted) exit(0);
      }
      if (shutdown.signal.aborted || reload === null) break;
      fallback = loaded;
      loaded = reload;
      reload = null;
      cycle = new AbortController();
      logger = makeLogger(loaded);
    }
  } finally {
    if (stopDeadline) clearTimeout(stopDeadline);
    endpoint?.server.stop();
    stopWatchdog();
    systemd?.close();
    process.off("SIGTERM", onStop);
    process.off("SIGINT", onStop);
    process.off("SIGHUP", onHangUp);
  }
}

/**
 * The Prometheus endpoint, when metrics.listen or --metrics-listen asks for it. It
 * lives as long as the process (a SIGHUP does not move it). One that cannot
 * listen is an error in the log; sampling goes on without it.
 */
function startMetrics(flags: AgentFlags, loaded: LoadedConfig, logger: Logger): { recorder: MetricsRecorder; server: MetricsServer } | null {
  const { metrics } = loaded.config;
  const listen = flags.metricsListen ?? metrics.listen;
  if (!listen) return null;
  const log = logger.withTag("metrics");
  try {
    const recorder = new MetricsRecorder(hostname(), VERSION);
    const server = startMetricsServer({
      listen,
      basicAuth: metrics.basic_auth,
      tlsCert: metrics.tls_cert,
      tlsKey: metrics.tls_key,
      state: () => recorder.state(),
      onScrape: () => recorder.scraped(),
    });
    log.info(`serving Prometheus metrics at ${server.url}/metrics`);
    if (!isLoopback(parseListen(listen).hostname) && !metrics.basic_auth) {
      log.warn(`metrics endpoint ${listen} is reachable from other hosts without authentication: set metrics.basic_auth (and metrics.tls_cert/tls_key), or listen on 127.0.0.1`);
    }
    return { recorder, server };
  } catch (error) {
    log.error(`${(error as Error).message}; the agent goes on without it`);
    return null;
  }
}

/** The notifier when systemd started us with Type=notify; a failure to set it up is a warning, not fatal. */
function systemdNotifier(logger: Logger): SystemdNotifier | null {
  try {
    return SystemdNotifier.fromEnvironment();
  } catch (error) {
    logger.warn(`systemd notification disabled: ${(error as Error).message}`);
    return null;
  }
}

