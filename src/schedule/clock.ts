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
