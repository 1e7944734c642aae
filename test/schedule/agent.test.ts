// The agent loop with a clock the test drives and a TypeScript stand-in for NVML
// (the binding itself is tested through bun:ffi in test/nvml/).

import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { aggregateWindow, baselineFrom } from "../../src/aggregate/windows.ts";
import * as v from "valibot";
import { ConfigSchema } from "../../src/config/schema.ts";
import { createLogger } from "../../src/log.ts";
import { NvmlUnavailableError, type GpuReading, type Nvml } from "../../src/nvml/index.ts";
import type { Clock } from "../../src/schedule/clock.ts";
import { runAgent } from "../../src/schedule/agent.ts";
import { Store } from "../../src/store/store.ts";
import { closeSync, openSync, writeSync } from "node:fs";
import { eightGpus, gpuSample, storedSamples, tempDatabase, writeTick } from "../helpers/samples.ts";
import { formatTime } from "../../src/util/time.ts";

class TestClock implements Clock {
  /** Added during the next sleep: a suspend or a paused VM. */
  jumpDuringNextSleep = 0;
  /** Time slept: a step of `ms` (the wall clock) does not move it. */
  private slept = 0;
  constructor(public ms: number) {}
  now() {
    return this.ms;
  }
  monotonic() {
    return this.slept;
  }
  async sleep(ms: number) {
    this.slept += Math.max(0, ms);
    this.ms += Math.max(0, ms) + this.jumpDuringNextSleep;
    this.jumpDuringNextSleep = 0;
    await Promise.resolve();
  }
}

function standInNvml(onRead: (reads: number) => void): Nvml {
  let reads = 0;
  return {
    libraryPath: "/stand-in/libnvidia-ml.so.1",
    boundSymbols: {},
    driverVersion: () => "550.54.15",
    host: () => {
      throw new Error("the agent asked for host(): its CUDA query loads libcuda into the agent");
    },
    deviceCount: () => 2,
    readGpu: (index) => {
      if (index === 0) onRead(++reads);
      return gpuSample({
        index,
        uuid: `GPU-${index}`,
        energyMillijoules: reads * 1000,
        temperatureCelsius: 40 + ((reads * 3 + index) % 7),
        powerUsageMilliwatts: 300_000 + reads * 123 + index * 1000,
        fanSpeedsPercent: reads % 4 === 0 ? null : [30 + (reads % 5), 41],
      });
    },
    processName: () => null,
    close: () => {},
  };
}

function config(file: string, intervalSeconds = 1) {
  return v.parse(ConfigSchema, {
    collection: { interval_seconds: intervalSeconds, aggregation_interval_seconds: intervalSeconds * 5 },
    database: { file },
  });
}

function logLines() {
  const lines: string[] = [];
  const stream = { write: (text: string) => lines.push(text.trimEnd()) } as unknown as NodeJS.WritableStream;
  return { lines, logger: createLogger("DEBUG", stream) };
}

async function runFor(options: {
  file: string;
  clock: TestClock;
  ticks: number;
  intervalSeconds?: number;
  onRead?: (reads: number, clock: TestClock) => void;
  open?: (attempt: number) => Nvml;
}) {
  const stop = new AbortController();
  const { lines, logger } = logLines();
  let attempts = 0;
  const nvml = standInNvml((reads) => {
    options.onRead?.(reads, options.clock);
    if (reads >= options.ticks) stop.abort();
  });
  await runAgent({
    config: config(options.file, options.intervalSeconds),
    logger,
    stop: stop.signal,
    clock: options.clock,
    openNvml: () => (options.open ? options.open(++attempts) : nvml),
  });
  return lines;
}

function sampleTimes(file: string): number[] {
  return [...new Set(storedSamples(file).map((row) => row.ts))];
}

/** What a query on the agent's file finds. */
function query<T>(file: string, sql: string): T[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.query(sql).all() as T[];
  } finally {
    db.close();
  }
}

function windows(file: string): Array<{ start: number; coverage: number }> {
  return query(file, "SELECT window_start AS start, min(coverage) AS coverage FROM aggregates GROUP BY window_start ORDER BY 1");
}

describe("the agent loop", () => {
  test("samples at wall-clock multiples of the interval and aggregates windows as they close", async () => {
    const file = tempDatabase();
    await runFor({ file, clock: new TestClock(1_000_300), ticks: 12 });
    expect(sampleTimes(file)).toEqual([1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012]);
    expect(windows(file)).toEqual([
      { start: 1000, coverage: 0.8 }, // 1001-1004: the agent started at 1000.3
      { start: 1005, coverage: 1 },
    ]);
  });

  test("at a 60 s interval, closed spans are compacted hourly, all of them, and every sample stays readable", async () => {
    const file = tempDatabase();
    // Ticks 7260..16200 (150 of them): hour boundaries at 10800 and 14400.
    await runFor({ file, clock: new TestClock(7_200_300), ticks: 150, intervalSeconds: 60 });
    const spans = query<{ start: number }>(file, "SELECT DISTINCT start FROM sample_blocks ORDER BY start");
    expect(spans.map((span) => span.start)).toEqual(Array.from({ length: 12 }, (_, i) => 7200 + i * 600)); // 7200..13800
    // The hour in progress (from 14400) stays rows until it ends.
    expect(query(file, "SELECT min(ts) AS ts FROM samples")).toEqual([{ ts: 14400 }]);
    expect(sampleTimes(file)).toEqual(Array.from({ length: 150 }, (_, i) => 7260 + i * 60));
  });

  test("each window the agent closes holds what aggregating its stored samples gives", async () => {
    const file = tempDatabase();
    await runFor({ file, clock: new TestClock(1_000_000), ticks: 23 });
    const store = Store.open(file, { readonly: true });
    try {
      const stored = [...store.windows.between(0, 2 ** 40)];
      expect(new Set(stored.map((window) => window.windowStart))).toEqual(new Set([1000, 1005, 1010, 1015]));
      for (const window of stored) {
        const [expected] = aggregateWindow({
          start: window.windowStart,
          periodSeconds: 5,
          intervalSeconds: 1,
          series: store.samples.series(baselineFrom(window.windowStart, 1), window.windowStart + 5).filter((series) => series.gpuId === window.gpuId),
          expectedGpus: [window.gpuId],
        });
        expect(window.sampleCount).toBe(expected!.sampleCount);
        expect(Object.values(window.values)).toEqual([...expected!.values]);
      }
      // Energy counts across window boundaries: 1000 mJ a tick, from the first tick's baseline on.
      expect(stored.filter((window) => window.gpuId === 1).map((window) => window.values.energy_mj)).toEqual([3000, 5000, 5000, 5000]);
    } finally {
      store.close();
    }
  });

  test("an agent restarted inside a window counts both runs' samples in it, none missing", async () => {
    const file = tempDatabase();
    await runFor({ file, clock: new TestClock(1_000_000), ticks: 3 }); // 1001..1003, inside the window from 1000
    await runFor({ file, clock: new TestClock(1_003_500), ticks: 4 }); // 1004..1007: the window from 1000 closes at 1005
    const store = Store.open(file, { readonly: true });
    const first = [...store.windows.between(1000, 1001)];
    expect(first.map((window) => window.sampleCount)).toEqual([4, 4]);
    store.close();
  });

  test("a suspend (the clock jumps an hour ahead) gives no burst of catch-up samples and no duplicate windows", async () => {
    const file = tempDatabase();
    const lines = await runFor({
      file,
      clock: new TestClock(1_000_000),
      ticks: 9,
      onRead: (reads, clock) => {
        if (reads === 4) clock.jumpDuringNextSleep = 3600_000; // suspended after the 4th sample
      },
    });
    const times = sampleTimes(file);
    expect(times.slice(0, 4)).toEqual([1001, 1002, 1003, 1004]);
    expect(times[4]).toBeGreaterThan(4600); // the next sample comes after the gap, once
    expect(times).toHaveLength(9);
    expect(lines.some((line) => line.includes("missed the tick"))).toBe(true);
    const starts = windows(file).map((w) => w.start);
    expect(new Set(starts).size).toBe(starts.length);
    const gap = windows(file).filter((w) => w.start > 1005 && w.start < 4600);
    expect(gap.length).toBeGreaterThan(700); // every unmonitored window is there...
    expect(gap.every((w) => w.coverage === 0)).toBe(true); // ...with coverage 0
    // The span before the gap (10 minutes from 600 s) has closed: its samples were compacted into blocks.
    expect(query(file, "SELECT start, gpu_id, sample_count FROM sample_blocks ORDER BY gpu_id")).toEqual([
      { start: 600, gpu_id: 1, sample_count: 4 },
      { start: 600, gpu_id: 2, sample_count: 4 },
    ]);
  });

  test("the clock stepping back never writes over recorded time", async () => {
    const file = tempDatabase();
    await runFor({
      file,
      clock: new TestClock(1_000_000),
      ticks: 8,
      onRead: (reads, clock) => {
        if (reads === 5) clock.ms -= 30_000; // NTP steps the clock 30 s back
      },
    });
    const times = sampleTimes(file);
    expect(times.slice(0, 5)).toEqual([1001, 1002, 1003, 1004, 1005]);
    expect(times.slice(5).every((t) => t > 1005)).toBe(true);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  test("the clock stepping back is said once, with how far and when storing resumes, and kept as an event", async () => {
    const file = tempDatabase();
    const lines = await runFor({
      file,
      clock: new TestClock(1_000_000),
      ticks: 8,
      onRead: (reads, clock) => {
        if (reads === 5) clock.ms -= 30_000; // NTP steps the clock 30 s back after the sample at 1005
      },
    });
    const said = lines.filter((line) => line.includes("the clock went back"));
    expect(said).toHaveLength(1);
    expect(said[0]).toContain("went back by 30 s");
    expect(said[0]).toContain(`storing resumes at ${formatTime(1006)}`);
    expect(lines.some((line) => line.includes("missed the tick"))).toBe(false);
    const events = query<{ kind: string; code: number; detail: string }>(file, "SELECT kind, code, detail FROM events WHERE kind = 'clock_back'");
    expect(events).toEqual([{ kind: "clock_back", code: 30, detail: said[0]!.slice(said[0]!.indexOf("the clock went back")) }]);
  });

  test("a clock that was days ahead and is put right: sampling goes on from the true time", async () => {
    const file = tempDatabase();
    const lines = await runFor({
      file,
      clock: new TestClock(1_000_000),
      ticks: 8,
      onRead: (reads, clock) => {
        if (reads === 1) clock.ms += 10 * 86_400_000; // wrong by 10 days after the first sample...
        if (reads === 4) clock.ms -= 10 * 86_400_000; // ...and put right after the fourth
      },
    });
    const times = sampleTimes(file);
    expect(times.filter((t) => t < 2000).length).toBeGreaterThanOrEqual(4); // stored again at the true time
    expect(lines.some((line) => line.includes("behind the newest stored sample"))).toBe(true);
  });

  test("NVML unavailable at start: the agent keeps going, logs once, and samples when the driver appears", async () => {
    const file = tempDatabase();
    const stop = new AbortController();
    const { lines, logger } = logLines();
    let attempts = 0;
    await runAgent({
      config: config(file),
      logger,
      stop: stop.signal,
      clock: new TestClock(1_000_000),
      openNvml: () => {
        if (++attempts <= 3) throw new NvmlUnavailableError("the NVIDIA driver is not loaded");
        return standInNvml((reads) => reads >= 2 && stop.abort());
      },
    });
    expect(sampleTimes(file)).toEqual([1004, 1005]);
    expect(lines.filter((line) => line.includes("the NVIDIA driver is not loaded"))).toHaveLength(1);
    expect(lines.some((line) => line.includes("NVML ready"))).toBe(true);
  });

  test("a page damaged while it runs: the agent stops with the message the open gives, naming the file", async () => {
    const file = tempDatabase();
    // 590 ticks of rows in the 10-minute span the agent starts in: compacting them when it closes reads every page.
    const span = 1_800_000_000 - (1_800_000_000 % 600);
    const store = Store.open(file);
    for (let tick = 0; tick < 590; tick++) writeTick(store, span + tick, eightGpus(tick));
    store.close();
    const stop = new AbortController();
    const { lines, logger } = logLines();
    const nvml = standInNvml((reads) => {
      if (reads === 1) damageMiddleLeaf(file);
      if (reads >= 20) stop.abort();
    });
    const run = runAgent({ config: config(file), logger, stop: stop.signal, clock: new TestClock((span + 595) * 1000 + 300), openNvml: () => nvml });
    const message = `database ${file} is corrupt or not a gpu_monitor database`;
    await expect(run).rejects.toThrow(message);
    const logged = lines.filter((line) => line.includes(message));
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain(`move it aside (mv '${file}' '${file}.corrupt')`);
    expect(logged[0]).toContain("it was not changed");
    expect(lines.at(-1)).toContain("stopped");
  });
});

/** Overwrites a leaf page of raw samples in the middle of the file, and commits from another connection so the agent's cache is read again. */
function damageMiddleLeaf(file: string): void {
  const other = new Database(file);
  const leaves = other.query("SELECT pageno FROM dbstat WHERE name = 'samples' AND pagetype = 'leaf' ORDER BY pageno").all() as Array<{ pageno: number }>;
  const page = leaves[Math.floor(leaves.length / 2)]!.pageno;
  const fd = openSync(file, "r+");
  writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, (page - 1) * 4096);
  closeSync(fd);
  other.exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('another_program', 'was here')");
  other.close();
}

describe("who used each GPU", () => {
  async function runWith(processes: "on" | "off" | "hashed"): Promise<string> {
    const file = tempDatabase();
    const stop = new AbortController();
    let reads = 0;
    const nvml: Nvml = {
      ...standInNvml(() => {}),
      deviceCount: () => 1,
      readGpu: (index) => {
        if (++reads >= 6) stop.abort();
        const self = { kind: "compute" as const, pid: process.pid, usedMemoryBytes: 1 << 20, gpuInstanceId: null, computeInstanceId: null };
        const utilization = [{ pid: process.pid, smPercent: 40, memoryPercent: 0, encoderPercent: 0, decoderPercent: 0 }];
        const reading: GpuReading = { ...gpuSample({ index, uuid: "GPU-0", processUtilization: utilization }), processes: [self] };
        return reading;
      },
      processName: () => "the-test-runner",
    };
    const settings = v.parse(ConfigSchema, { collection: { interval_seconds: 1, aggregation_interval_seconds: 5, processes }, database: { file } });
    await runAgent({ config: settings, logger: logLines().logger, stop: stop.signal, clock: new TestClock(2_000_300), openNvml: () => nvml });
    return file;
  }

  test("on: each tick's processes go into the window's rows when it closes, with the owner from /proc", async () => {
    const file = await runWith("on");
    const rows = query<{ window_start: number; gpu_seconds: number; sm_seconds: number; uid: number }>(
      file,
      "SELECT w.window_start, w.gpu_seconds, w.sm_seconds, p.uid FROM process_windows w JOIN processes p ON p.id = w.process_id ORDER BY 1",
    );
    expect(rows).toEqual([{ window_start: 2000, gpu_seconds: 4, sm_seconds: 1.6, uid: process.getuid!() }]); // 2001-2004
    // The open window's ticks wait, one row per GPU, until it closes.
    expect(query(file, "SELECT ts, seconds FROM process_ticks ORDER BY ts")).toEqual([
      { ts: 2005, seconds: 1 },
      { ts: 2006, seconds: 1 },
    ]);
  });

  test("off: nothing about processes is kept", async () => {
    const file = await runWith("off");
    for (const table of ["process_windows", "user_windows", "process_lists", "processes", "process_users"]) {
      expect(query(file, `SELECT * FROM ${table}`)).toEqual([]);
    }
    expect(query(file, "SELECT count(*) AS n FROM samples")).toEqual([{ n: 6 }]);
  });
});
