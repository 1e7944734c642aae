// Runs a frame every N seconds until SIGINT or SIGTERM: `snapshot --watch`. The
// caller opens what it reads once and reuses it in every frame.

export interface WatchOptions {
  intervalMs: number;
  /** Draws one frame. */
  frame: (first: boolean) => void;
  /** Aborted to stop: after the frame in progress, without waiting out the interval. */
  stop: AbortSignal;
  now?: () => number;
}

/** Frames start every intervalMs (a slow frame shortens the wait after it, never overlaps the next). */
export async function watch(options: WatchOptions): Promise<number> {
  const now = options.now ?? (() => performance.now());
  let frames = 0;
  while (!options.stop.aborted) {
    const started = now();
    options.frame(frames === 0);
    frames++;
    await sleep(Math.max(0, options.intervalMs - (now() - started)), options.stop);
  }
  return frames;
}

function sleep(ms: number, stop: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (stop.aborted) return resolve();
    const timer = setTimeout(done, ms);
    stop.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      stop.removeEventListener("abort", done);
      resolve();
    }
  });
}

/** An AbortSignal that SIGINT or SIGTERM aborts, and a function to stop listening. */
export function stopOnSignals(): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController();
  const abort = () => controller.abort();
  process.on("SIGINT", abort);
  process.on("SIGTERM", abort);
  return {
    signal: controller.signal,
    release: () => {
      process.off("SIGINT", abort);
      process.off("SIGTERM", abort);
    },
  };
}
