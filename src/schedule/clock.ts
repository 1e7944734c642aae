// Time as the scheduler sees it, so tests can drive it.

export interface Clock {
  /** Wall-clock milliseconds since the Unix epoch. */
  now(): number;
  /** Resolves after `ms` (or at once when `signal` aborts). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
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
 * A check that only the clock can make due, such as whether a 10-minute span or
 * a window has closed: after it found nothing to do, it need not run again until
 * the next multiple of its period, unless the clock went back. Each skipped check
 * is a few queries fewer on a tick that runs cold once a minute.
 */
export class BoundaryCheck {
  private nextSeconds = -Infinity;
  private lastSeconds = -Infinity;

  constructor(private readonly periodSeconds: number) {}

  /** Whether the check must run at `nowSeconds`. */
  due(nowSeconds: number): boolean {
    const due = nowSeconds >= this.nextSeconds || nowSeconds < this.lastSeconds;
    this.lastSeconds = nowSeconds;
    return due;
  }

  /** It ran at `nowSeconds` and nothing is left: nothing can be due before the next boundary. */
  settled(nowSeconds: number): void {
    this.nextSeconds = (Math.floor(nowSeconds / this.periodSeconds) + 1) * this.periodSeconds;
  }

  /** It did some work or failed: more may be left, so it runs again next time. */
  unsettled(): void {
    this.nextSeconds = -Infinity;
  }
}
