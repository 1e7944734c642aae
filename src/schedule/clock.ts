// Time as the scheduler sees it, so tests can drive it.

export interface Clock {
  /** Wall-clock milliseconds since the Unix epoch. */
  now(): number;
  /** Milliseconds that only ever go forward (not stepped with the wall clock): how a step of the wall clock is told from time passing. */
  monotonic(): number;
  /** Resolves after `ms` (or at once when `signal` aborts). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = setTimeout(done, Math.max(0, ms));
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      }
      signal?.addEventListener("abort", done, { once: true });
    }),
};

/** The next wall-clock multiple of the interval strictly after `nowMs`. */
export function nextTickMs(nowMs: number, intervalMs: number): number {
  return (Math.floor(nowMs / intervalMs) + 1) * intervalMs;
}

/**
 * Wall-clock time running `rate` times faster, starting at `startMs`, sleeping 1/rate
 * of each wait: a benchmark runs hours of 1 s ticks in minutes through the same loop.
 */
export function acceleratedClock(rate: number, startMs = Date.now()): Clock {
  const realStart = Date.now();
  return {
    now: () => startMs + (Date.now() - realStart) * rate,
    monotonic: () => performance.now() * rate,
    sleep: (ms, signal) => systemClock.sleep(ms / rate, signal),
  };
}

/**
 * The clock the agent runs on: the system's, or, for benchmarks of the compiled
 * binary only, an accelerated one: GPU_MONITOR_TEST_CLOCK_RATE (times faster) and
 * GPU_MONITOR_TEST_CLOCK_START (where it starts, Unix seconds; default now).
 */
export function agentClock(env: Record<string, string | undefined> = process.env): Clock {
  const rate = Number(env.GPU_MONITOR_TEST_CLOCK_RATE);
  if (!(Number.isFinite(rate) && rate > 1)) return systemClock;
  const start = Number(env.GPU_MONITOR_TEST_CLOCK_START);
  return acceleratedClock(rate, Number.isFinite(start) && start > 0 ? start * 1000 : Date.now());
}
