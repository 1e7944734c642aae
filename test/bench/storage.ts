// Storage benchmark: 30 days of 1-second samples for 8 GPUs (~20.7 million
// GPU-samples) in one SQLite file, then the operations the agent and the query
// commands run on it. Usage: bun test/bench/storage.ts [--days N]

import { Database } from "bun:sqlite";
import { mkdtempSync, openSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { aggregateClosedWindows, aggregateWindowAt } from "../../src/aggregate/aggregator.ts";
import { sampleBatches, windowBatches } from "../../src/query/batches.ts";
import { showCollection } from "../../src/query/collection.ts";
import { writeRecords, type Output } from "../../src/query/writer.ts";
import { BLOCK_SECONDS } from "../../src/store/blocks.ts";
import { pruneOldData } from "../../src/store/retention.ts";
import { Store } from "../../src/store/store.ts";
import { eightGpus, writeTick } from "../helpers/samples.ts";

const DAY = 86_400;
const GPUS = 8;
const RAW_HOURS_LEFT = 3;
const TICK_EVERY_MS = 5;

export interface StorageFigures {
  days: number;
  gpuSamples: number;
  generateSeconds: number;
  bytesPerGpuSample: number;
  tickInsertMs: { median: number; p99: number };
  aggregateHourMs: number;
  aggregateClosedHourMs: number;
  tickHousekeepingMs: number;
  compactHourMs: number;
  showMinuteMs: number;
  exportHourMs: number;
  exportHourBytes: number;
  exportHourCsvMs: number;
  /** The process's first export of an hour: its code compiled on the way. */
  exportFirstMs: number;
  exportFirstCsvMs: number;
  exportHourlyMs: number;
  /** Peak RSS growth over exporting one hour, and over exporting a whole day: constant memory means the two stay close. */
  exportRssGrowthMb: { hour: number; day: number };
  exportDaySeconds: number;
  prune: { rows: number; seconds: number; longestBatchMs: number; medianBatchMs: number; longestTickWaitMs: number; ticks: number };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

function timeMs(work: () => void): number {
  const started = performance.now();
  work();
  return performance.now() - started;
}

/**
 * Bulk-loads `days` of samples as the agent would have written them, quickly: rows
 * through a second connection without fsync, an hour at a time, then compacted.
 */
export function generate(store: Store, start: number, days: number): void {
  writeTick(store, start, eightGpus(0)); // registers the GPUs (ids 1..8)
  const db = new Database(store.file);
  db.exec("PRAGMA synchronous = OFF");
  const insert = db.prepare(
    `INSERT INTO samples (ts, gpu_id, temperature, memory_used, memory_free, gpu_utilization, memory_utilization,
       power_mw, power_limit_mw, fan_speed, graphics_clock, sm_clock, memory_clock, energy_mj, performance_state,
       clock_event_reasons, ecc_errors_corrected, ecc_errors_uncorrected, encoder_utilization, decoder_utilization,
       pcie_link_generation, pcie_link_width, pcie_tx_throughput, pcie_rx_throughput)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, 700000, NULL, ?, ?, 2619, ?, 0, ?, 0, 0, 0, ?, 5, 16, ?, ?)`,
  );
  const total = 85_520_809_984;
  const reserved = 553_648_128;
  const energy = new Array<number>(GPUS).fill(1_000_000_000);
  let random = 12345;
  const next = () => (random = (random * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const end = start + days * DAY;
  // An hour at a time, each compacted into blocks once closed, as the agent does; the last
  // three hours stay raw rows, for the benchmark to close them as the agent would.
  for (let hour = start; hour < end; hour += 3600) {
    db.transaction(() => {
      for (let ts = Math.max(hour, start + 1); ts < hour + 3600; ts++) {
        for (let gpu = 0; gpu < GPUS; gpu++) {
          const busy = next();
          const used = Math.floor(40e9 + busy * 40e9) - (Math.floor(busy * 40e9) % 1048576);
          const power = Math.floor(100_000 + busy * 600_000);
          energy[gpu]! += power; // mW over one second = mJ
          const clock = busy > 0.05 ? 1980 : 345;
          insert.run(ts, gpu + 1, 35 + Math.floor(busy * 45), used, total - reserved - used, Math.floor(busy * 100),
            Math.floor(busy * 60), power, clock, clock, energy[gpu]!, busy > 0.05 ? 0 : 1, Math.floor(busy * 20),
            Math.floor(busy * 2_000_000), Math.floor(busy * 9_000_000));
        }
      }
    })();
    if (hour + 3600 <= end - RAW_HOURS_LEFT * 3600) store.samples.compact(hour + 3600);
  }
  // FULL before the checkpoint, so it fsyncs the file: otherwise the first checkpoint of the ticks
  // measured below would flush the whole generated file, a cost the agent never pays.
  db.exec("PRAGMA synchronous = FULL");
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  db.close();
}

/** Output to /dev/null through a real write: the text is flattened and encoded as stdout would. */
const nullOutput = (): Output & { bytes: number } => {
  const out = {
    bytes: 0,
    async write(chunk: string) {
      out.bytes += writeSync(devNull, chunk);
    },
  };
  return out;
};
const devNull = openSync("/dev/null", "w");

export async function storageBenchmark(days = 30): Promise<StorageFigures> {
  const folder = mkdtempSync(join(tmpdir(), "gpu-monitor-bench-"));
  const file = join(folder, "gpu_metrics.db");
  const start = Math.floor(Date.UTC(2026, 0, 1) / 1000);
  const store = Store.open(file);
  try {
    const generateStarted = performance.now();
    generate(store, start, days);
    const generateSeconds = (performance.now() - generateStarted) / 1000;
    const counter = new Database(file, { readonly: true });
    const gpuSamples = (
      counter.query("SELECT (SELECT count(*) FROM samples) + (SELECT coalesce(sum(sample_count), 0) FROM sample_blocks) AS n").get() as { n: number }
    ).n;
    counter.close();
    const bytesPerGpuSample = statSync(file).size / gpuSamples;

    // A tick as the agent writes it: 8 GPUs, one IMMEDIATE transaction, synchronous=FULL.
    const end = start + days * DAY;
    const tickTimes: number[] = [];
    for (let i = 0; i < 200; i++) tickTimes.push(timeMs(() => writeTick(store, end + i, eightGpus(i))));

    // Each query runs on 11 different hours of the middle day (a first read of each); the median is reported.
    const hours = [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21].map((h) => start + Math.floor(days / 2) * DAY + h * 3600);
    // What the agent does with an hour: as each 10-minute span closes it compacts its rows into
    // blocks, and as the hour closes it aggregates the window from what is stored.
    const compactTimes: number[] = [];
    const closedHourTimes: number[] = [];
    for (let hour = end - RAW_HOURS_LEFT * 3600; hour < end; hour += 3600) {
      for (let span = hour; span < hour + 3600; span += BLOCK_SECONDS) {
        compactTimes.push(timeMs(() => {
          if (store.samples.compact(span + BLOCK_SECONDS).spans !== 1) throw new Error("no span was compacted: the benchmark would measure nothing");
        }));
      }
      closedHourTimes.push(timeMs(() => {
        if (!aggregateWindowAt(store, hour, { periodSeconds: 3600, intervalSeconds: 1 }, end)) throw new Error("the window was stored before");
      }));
    }
    const aggregateClosedHourMs = median(closedHourTimes);
    const compactHourMs = median(compactTimes);
    // What every tick costs besides its insert when no hour or window is due: the checks must not grow with the file.
    const housekeepingTimes = Array.from({ length: 50 }, (_, i) =>
      timeMs(() => {
        store.samples.compact(end + 100 + i, 100);
        aggregateClosedWindows(store, end + 100 + i, { periodSeconds: 3600, intervalSeconds: 1 });
      }),
    );
    const tickHousekeepingMs = median(housekeepingTimes);
    // Catch-up after downtime: hours already compacted into blocks.
    const aggregateTimes = hours.map((hour) =>
      timeMs(() => aggregateWindowAt(store, hour, { periodSeconds: 3600, intervalSeconds: 1 }, end)),
    );
    // The first export in a process also compiles its code (JIT): reported on its own, from an hour not measured below.
    const firstExportHour = start + Math.floor(days / 2) * DAY;
    let exportStarted = performance.now();
    await writeRecords(sampleBatches(store, firstExportHour, firstExportHour + 3600), "json", nullOutput(), { style: "lines" });
    const exportFirstMs = performance.now() - exportStarted;
    exportStarted = performance.now();
    await writeRecords(sampleBatches(store, firstExportHour, firstExportHour + 3600), "csv", nullOutput());
    const exportFirstCsvMs = performance.now() - exportStarted;
    const minuteTimes: number[] = [];
    const exportTimes: number[] = [];
    const exportCsvTimes: number[] = [];
    const exportHourlyTimes: number[] = [];
    let exportHourBytes = 0;
    for (const hour of hours) {
      const minuteOut = nullOutput();
      let started = performance.now();
      await writeRecords(showCollection(store, new Date((hour + 1800) * 1000).toISOString(), 3600, end).batches, "json", minuteOut);
      minuteTimes.push(performance.now() - started);
      if (minuteOut.bytes < 1000) throw new Error("the minute queried is empty: the benchmark would measure nothing");
      const hourOut = nullOutput();
      started = performance.now();
      await writeRecords(sampleBatches(store, hour, hour + 3600), "json", hourOut, { style: "lines" });
      exportTimes.push(performance.now() - started);
      if (hourOut.bytes < 1_000_000) throw new Error("the hour exported is empty: the benchmark would measure nothing");
      exportHourBytes = hourOut.bytes;
      const csvOut = nullOutput();
      started = performance.now();
      await writeRecords(sampleBatches(store, hour, hour + 3600), "csv", csvOut);
      exportCsvTimes.push(performance.now() - started);
      const hourlyOut = nullOutput();
      started = performance.now();
      if ((await writeRecords(windowBatches(store, hour, hour + 3600), "json", hourlyOut, { style: "lines" })) !== 1) {
        throw new Error("the hour's aggregate is missing: the benchmark would measure nothing");
      }
      exportHourlyTimes.push(performance.now() - started);
    }
    // Constant memory: the peak RSS an export adds, over an hour and over a whole day (24 times the data).
    const rssGrowth = async (from: number, to: number) => {
      Bun.gc(true);
      const before = process.memoryUsage.rss();
      let peak = before;
      const out = nullOutput();
      await writeRecords(sampleBatches(store, from, to), "json", out, { style: "lines", onBatch: () => void (peak = Math.max(peak, process.memoryUsage.rss())) });
      return (peak - before) / 1e6;
    };
    const dayStart = start + Math.floor(days / 2) * DAY;
    const exportRssGrowthMb = { hour: await rssGrowth(dayStart, dayStart + 3600), day: 0 };
    let started = performance.now();
    exportRssGrowthMb.day = await rssGrowth(dayStart, dayStart + DAY);
    const exportDaySeconds = (performance.now() - started) / 1000;

    // Retention of the oldest day while the agent keeps ticking, every 5 ms here so that
    // even a short prune sees ticks: a tick waits at most for the batch in progress.
    const batchTimes: number[] = [];
    const tickWaits: number[] = [];
    let tickTs = end + 1000;
    let due = performance.now() + TICK_EVERY_MS;
    const ticker = setInterval(() => {
      tickWaits.push(performance.now() - due);
      writeTick(store, tickTs++, eightGpus(tickTs));
      due = performance.now() + TICK_EVERY_MS;
    }, TICK_EVERY_MS);
    let batchStarted = performance.now();
    started = performance.now();
    // "now" is such that the oldest day falls out of a 30-day retention.
    const pruned = await pruneOldData(store, start + DAY + 30 * DAY, { rawDays: 30, aggregatedDays: 365 }, {
      batchRows: 1000,
      yieldBetween: async () => {
        batchTimes.push(performance.now() - batchStarted);
        await new Promise((resolve) => setTimeout(resolve, 0));
        batchStarted = performance.now();
      },
    });
    const pruneSeconds = (performance.now() - started) / 1000;
    clearInterval(ticker);
    if (tickWaits.length === 0) throw new Error("no tick ran during the prune: the benchmark would measure nothing");
    return {
      days,
      gpuSamples,
      generateSeconds,
      bytesPerGpuSample,
      tickInsertMs: { median: median(tickTimes), p99: percentile(tickTimes, 0.99) },
      aggregateHourMs: median(aggregateTimes),
      aggregateClosedHourMs,
      tickHousekeepingMs,
      compactHourMs,
      showMinuteMs: median(minuteTimes),
      exportHourMs: median(exportTimes),
      exportHourBytes,
      exportHourCsvMs: median(exportCsvTimes),
      exportFirstMs,
      exportFirstCsvMs,
      exportHourlyMs: median(exportHourlyTimes),
      exportRssGrowthMb,
      exportDaySeconds,
      prune: {
        rows: pruned.samples,
        seconds: pruneSeconds,
        longestBatchMs: Math.max(...batchTimes),
        medianBatchMs: median(batchTimes),
        longestTickWaitMs: Math.max(0, ...tickWaits),
        ticks: tickWaits.length,
      },
    };
  } finally {
    store.close();
    rmSync(folder, { recursive: true, force: true });
  }
}

export function printStorage(f: StorageFigures): void {
  const ms = (value: number) => `${value.toFixed(2)} ms`;
  console.log(`\nStorage: ${f.days} days of 1-second samples for 8 GPUs = ${f.gpuSamples.toLocaleString("en")} GPU-samples (generated in ${f.generateSeconds.toFixed(0)} s)`);
  console.log(`  bytes per GPU-sample on disk          ${f.bytesPerGpuSample.toFixed(1)} B   (target <= 40)`);
  console.log(`  insert one tick (8 GPUs, fsync)       median ${ms(f.tickInsertMs.median)}, p99 ${ms(f.tickInsertMs.p99)}`);
  console.log(`  a tick's checks when nothing is due (compaction, windows)   ${ms(f.tickHousekeepingMs)}`);
  console.log(`  compact 10 minutes just closed (4,800 rows -> 8 blocks)   ${ms(f.compactHourMs)}   (median of ${RAW_HOURS_LEFT * 6})`);
  console.log(`  aggregate the hour just closed, as the agent does (its code cold, once an hour)   ${ms(f.aggregateClosedHourMs)}   (median of ${RAW_HOURS_LEFT})`);
  console.log(`  aggregate an hour from its blocks (catch-up after downtime)   ${ms(f.aggregateHourMs)}   (target <= 20 ms; median of 11 hours)`);
  console.log(`  -sc of one minute (JSON)              ${ms(f.showMinuteMs)}   (target <= 20 ms)`);
  console.log(`  export of one hour, 28,800 GPU-samples (JSON, ${(f.exportHourBytes / 1e6).toFixed(1)} MB)     ${ms(f.exportHourMs)}, as CSV ${ms(f.exportHourCsvMs)}   (target <= 60 ms; median of 11 hours)`);
  console.log(`    the process's first export (compiling its code on the way)   ${ms(f.exportFirstMs)}, as CSV ${ms(f.exportFirstCsvMs)}`);
  console.log(`  export --level hourly of one hour     ${ms(f.exportHourlyMs)}`);
  console.log(`  peak RSS an export adds: one hour ${f.exportRssGrowthMb.hour.toFixed(1)} MB, one day ${f.exportRssGrowthMb.day.toFixed(1)} MB (the day in ${f.exportDaySeconds.toFixed(1)} s)   (constant memory: about the same)`);
  console.log(
    `  prune one day (${f.prune.rows.toLocaleString("en")} rows) in ${f.prune.seconds.toFixed(1)} s: batches median ${ms(f.prune.medianBatchMs)}, longest ${ms(f.prune.longestBatchMs)}; longest wait of a concurrent tick ${ms(f.prune.longestTickWaitMs)} over ${f.prune.ticks} ticks   (target <= 50 ms)`,
  );
}

if (import.meta.main) {
  const at = process.argv.indexOf("--days");
  printStorage(await storageBenchmark(at > 0 ? Number(process.argv[at + 1]) : 30));
}
