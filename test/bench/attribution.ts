// Attribution benchmark (who used each GPU):
// 1. CPU per tick of 8 GPUs with 50 real processes each (400 `sleep`s, so /proc is
//    real): the basic sample (the binding and process names, as before) against what
//    attribution adds (the per-process utilization call, each process's owner from
//    /proc, the tick's rows built), and the store's part (the tick's upserts).
// 2. Bytes stored per process-hour: a day of 60 s ticks of those 400 processes into a
//    database, its size against the same day without processes.
// 3. `usage --by user` (readUsage) over a year of hourly windows of 8 GPUs and 200 users.

import { ProcessAttribution } from "../../src/aggregate/attribution.ts";
import { ProcessNameCache, osProcessNameLookup } from "../../src/collect/processNames.ts";
import { ProcessOwners } from "../../src/collect/processOwners.ts";
import { takeSample, type GpuSample } from "../../src/collect/sample.ts";
import { gpuValues, sampleValues } from "../../src/metrics/catalog.ts";
import { openNvml } from "../../src/nvml/index.ts";
import { readUsage } from "../../src/query/usage.ts";
import { Store } from "../../src/store/store.ts";
import { fakeNvmlLibrary, useScenarioInProcess, writeScenario } from "../helpers/fakeNvml.ts";
import { gpuSample, tempDatabase } from "../helpers/samples.ts";
import { Database } from "bun:sqlite";

export interface AttributionFigures {
  processes: number;
  basicUsPerTick: number;
  attributionUsPerTick: number;
  ownersUsPerTick: number;
  storeBasicUsPerTick: number;
  storeWithProcessesUsPerTick: number;
  /** Folding an hour's ticks (60 of 8 GPUs) into its rows at the window's close. */
  foldUsPerWindow: number;
  bytesPerProcessHour: number;
  /** Free pages left by folded ticks (reused by the next hour's). */
  freeBytes: number;
  usageRows: number;
  usageByUserMs: number;
}

const GPUS = 8;
const PER_GPU = 50;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** CPU microseconds (user + system) per call, median of `rounds` runs of `count` calls. */
function cpuUsPer(work: () => void, count: number, rounds = 5): number {
  for (let i = 0; i < count; i++) work(); // warm the JIT
  const runs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const before = process.cpuUsage();
    for (let i = 0; i < count; i++) work();
    const used = process.cpuUsage(before);
    runs.push((used.user + used.system) / count);
  }
  return median(runs);
}

/**
 * Bytes the data takes: pages in use after a checkpoint. The ticks of the open hour wait in
 * the database until it closes; their pages are then free and the next hour's ticks reuse them.
 */
function storedBytes(file: string): { used: number; free: number } {
  const db = new Database(file);
  try {
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    const pragma = (name: string) => (db.query(`PRAGMA ${name}`).get() as Record<string, number>)[name]!;
    const pageSize = pragma("page_size");
    return { used: (pragma("page_count") - pragma("freelist_count")) * pageSize, free: pragma("freelist_count") * pageSize };
  } finally {
    db.close();
  }
}

export async function attributionBenchmark(): Promise<AttributionFigures> {
  const children = Array.from({ length: GPUS * PER_GPU }, () => Bun.spawn(["sleep", "600"]));
  try {
    const pids = children.map((child) => child.pid);
    const lines: string[] = [];
    for (let g = 0; g < GPUS; g++) {
      const mine = pids.slice(g * PER_GPU, (g + 1) * PER_GPU);
      lines.push(`gpu${g}.processes.compute = ${mine.map((pid) => `${pid}:${1 << 30}`).join(",")}`);
      lines.push(`gpu${g}.processes.utilization = ${mine.map((pid, i) => `${pid}:${i % 100}:5:0:0`).join(",")}`);
    }
    useScenarioInProcess(writeScenario(`${lines.join("\n")}\n`));
    const nvml = openNvml({ libraryPath: fakeNvmlLibrary("current") });
    const names = new ProcessNameCache(osProcessNameLookup(), (pid) => nvml.processName(pid));
    const owners = new ProcessOwners();
    const attribution = new ProcessAttribution("on", (v) => v);
    // The basic sample reads the process lists too; attribution adds the utilization call
    // (made by the binding whether or not owners are looked up, so it is in both), the owners and the rows.
    const basic = cpuUsPer(() => takeSample(nvml, names), 200);
    // What attribution adds to a tick's reading: each process's owner (known since the last
    // tick: a map look-up) and the tick's rows built. Measured apart: their difference from
    // two whole samples is smaller than the noise between them.
    const sample = takeSample(nvml, names, undefined, owners);
    const ownersOnly = cpuUsPer(() => {
      for (const pid of pids) owners.owner(pid);
    }, 200);
    const rowsOnly = cpuUsPer(() => attribution.tick(Math.floor(Date.now() / 1000), 60, sample.gpus), 200);
    nvml.close();

    // The store's part and the bytes: a day of ticks, with and without processes.
    const gpus: GpuSample[] = sample.gpus;
    const day = 1440;
    const t0 = 1_767_225_600;
    const plain = Store.open(tempDatabase());
    const full = Store.open(tempDatabase());
    const plainTimes: number[] = [];
    const fullTimes: number[] = [];
    const foldTimes: number[] = [];
    for (let tick = 0; tick < day; tick++) {
      const ts = t0 + tick * 60;
      const rows = gpus.map((gpu) => ({ identity: gpuValues(gpu), values: sampleValues(gpu) }));
      let before = process.cpuUsage();
      plain.samples.writeTick(ts, rows);
      let used = process.cpuUsage(before);
      plainTimes.push(used.user + used.system);
      const ticks = attribution.tick(ts, 60, gpus);
      before = process.cpuUsage();
      full.samples.writeTick(ts, rows.map((row, i) => ({ ...row, processes: ticks[i]! })));
      used = process.cpuUsage(before);
      fullTimes.push(used.user + used.system);
      if ((tick + 1) % 60 === 0) {
        // The hour closes: its ticks become its rows, as the aggregator does before storing the window.
        const hour = ts + 60 - 3600;
        before = process.cpuUsage();
        full.processes.fold(hour, hour + 3600);
        used = process.cpuUsage(before);
        foldTimes.push(used.user + used.system);
      }
    }
    for (const store of [plain, full]) store.samples.compact(t0 + day * 60);
    plain.close();
    full.close();
    const processHours = (GPUS * PER_GPU * day) / 60;
    const withProcesses = storedBytes(full.file);
    const bytesPerProcessHour = (withProcesses.used - storedBytes(plain.file).used) / processHours;

    // A year of hourly windows, 8 GPUs, 200 users, two users on each GPU each hour.
    const yearFile = tempDatabase();
    const usageRows = seedYear(yearFile);
    const year = Store.open(yearFile, { readonly: true });
    const usageTimes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      readUsage(year, t0, t0 + 8760 * 3600, "user");
      usageTimes.push(performance.now() - started);
    }
    year.close();
    return {
      processes: GPUS * PER_GPU,
      basicUsPerTick: basic,
      attributionUsPerTick: ownersOnly + rowsOnly,
      ownersUsPerTick: ownersOnly,
      storeBasicUsPerTick: median(plainTimes),
      storeWithProcessesUsPerTick: median(fullTimes),
      foldUsPerWindow: median(foldTimes),
      bytesPerProcessHour,
      freeBytes: withProcesses.free,
      usageRows,
      usageByUserMs: median(usageTimes),
    };
  } finally {
    for (const child of children) child.kill();
  }
}

/** Windows, their GPU summaries (energy) and user rows for a year, as the agent would leave them; returns the user rows. */
function seedYear(file: string): number {
  const t0 = 1_767_225_600;
  const store = Store.open(file); // the schema, and the GPUs
  store.samples.writeTick(t0, Array.from({ length: GPUS }, (_, g) => ({ identity: gpuValues(gpuSample({ index: g, uuid: `GPU-bench-${g}` })), values: null })));
  const gpuIds = [...store.gpus.all().keys()];
  store.close();
  const db = new Database(file);
  let rows = 0;
  db.transaction(() => {
    const window = db.prepare("INSERT INTO windows (start, period_seconds, interval_seconds, aggregated_at) VALUES (?, 3600, 60, ?)");
    const aggregate = db.prepare("INSERT INTO aggregates (window_start, gpu_id, sample_count, coverage, energy_mj) VALUES (?, ?, 60, 1, ?)");
    const user = db.prepare("INSERT INTO process_users (id, name) VALUES (?, ?)");
    const userWindow = db.prepare("INSERT INTO user_windows (window_start, gpu_id, user_id, gpu_seconds, sm_seconds, memory_max) VALUES (?, ?, ?, ?, ?, ?)");
    for (let u = 1; u <= 200; u++) user.run(u, `user${u}`);
    for (let h = 0; h < 8760; h++) {
      const start = t0 + h * 3600;
      window.run(start, start + 3600);
      for (const [g, gpuId] of gpuIds.entries()) {
        aggregate.run(start, gpuId, 1_000_000_000 + g);
        for (const k of [0, 1]) {
          userWindow.run(start, gpuId, ((h * 7 + g * 13 + k * 101) % 200) + 1, 3600 - k * 1800, 1000 + k, 1 << 30);
          rows++;
        }
      }
    }
  })();
  db.close();
  return rows;
}

export function printAttribution(f: AttributionFigures): void {
  const us = (value: number) => `${value.toFixed(0)} µs`;
  const basicTick = f.basicUsPerTick + f.storeBasicUsPerTick;
  const foldPerTick = f.foldUsPerWindow / 60;
  const added = f.attributionUsPerTick + (f.storeWithProcessesUsPerTick - f.storeBasicUsPerTick) + foldPerTick;
  console.log(`\nAttribution: ${f.processes} processes on 8 GPUs (real sleeps, real /proc)`);
  console.log(`  basic sample per tick (binding, process lists, names)   ${us(f.basicUsPerTick)}`);
  console.log(`  attribution adds to it (owners, the tick's rows)        ${us(f.attributionUsPerTick)}   ${(f.attributionUsPerTick / f.basicUsPerTick).toFixed(2)}x (target <= 1x)`);
  console.log(`    of which the owners (known since the last tick)         ${us(f.ownersUsPerTick)}`);
  console.log(`  storing a tick: samples only / with the process rows    ${us(f.storeBasicUsPerTick)} / ${us(f.storeWithProcessesUsPerTick)}`);
  console.log(`  folding an hour's ticks into its rows, at its close     ${(f.foldUsPerWindow / 1000).toFixed(1)} ms (${us(foldPerTick)} a tick)`);
  console.log(`  the whole tick (read + store + fold): basic / added     ${us(basicTick)} / ${us(added)}   ${(added / basicTick).toFixed(2)}x (target <= 1x)`);
  console.log(`  bytes stored per process-hour (60 s ticks, a day)       ${f.bytesPerProcessHour.toFixed(1)} B (+ ${(f.freeBytes / 1e6).toFixed(2)} MB of free pages an hour's ticks leave, reused)`);
  console.log(`  usage --by user, a year of hourly windows (${f.usageRows} user rows)  ${f.usageByUserMs.toFixed(1)} ms (target <= 200 ms)`);
}

if (import.meta.main) printAttribution(await attributionBenchmark());
