import { describe, expect, test } from "bun:test";
import { watch } from "../../src/cli/watch.ts";

describe("watch", () => {
  test("a frame every interval, the first marked first, until stopped", async () => {
    const stop = new AbortController();
    const frames: boolean[] = [];
    const started = performance.now();
    const count = await watch({
      intervalMs: 30,
      stop: stop.signal,
      frame(first) {
        frames.push(first);
        if (frames.length === 3) setTimeout(() => stop.abort(), 5);
      },
    });
    expect(count).toBe(3);
    expect(frames).toEqual([true, false, false]);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(50); // two intervals between three frames
  });

  test("stopping ends the wait at once, not after the interval", async () => {
    const stop = new AbortController();
    const started = performance.now();
    await watch({ intervalMs: 60_000, stop: stop.signal, frame: () => void setTimeout(() => stop.abort(), 10) });
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  test("a slow frame shortens the wait after it", async () => {
    const stop = new AbortController();
    let clock = 0;
    const gaps: number[] = [];
    let last = performance.now();
    await watch({
      intervalMs: 1000,
      stop: stop.signal,
      now: () => clock,
      frame() {
        gaps.push(performance.now() - last);
        last = performance.now();
        clock += 990; // each frame takes 990 of the 1000 ms (on the injected clock): 10 ms left to wait
        if (gaps.length === 4) stop.abort();
      },
    });
    expect(gaps).toHaveLength(4);
    for (const gap of gaps.slice(1)) expect(gap).toBeLessThan(500); // not the whole second
  });

  test("already stopped: no frame", async () => {
    const stop = new AbortController();
    stop.abort();
    expect(await watch({ intervalMs: 10, stop: stop.signal, frame: () => {} })).toBe(0);
  });
});
