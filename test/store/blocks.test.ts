// Compaction of closed spans into blocks, on real SQLite files: the same samples
// come back, nothing is lost on the way, and old blocks are pruned.

import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { SAMPLE_METRICS } from "../../src/metrics/catalog.ts";
import { BLOCK_COLUMNS, BLOCK_SECONDS, compactionPeriodSeconds, decodeBlock, encodeBlock } from "../../src/store/blocks.ts";
import { mergeNewerFirst, type SampleColumns } from "../../src/store/columns.ts";
import { pruneOldData } from "../../src/store/retention.ts";
import { Store } from "../../src/store/store.ts";
import { eightGpus, gpuSample, sampleRows, tempDatabase, writeTick } from "../helpers/samples.ts";

const HOUR = 3600;
const SPANS_PER_HOUR = HOUR / BLOCK_SECONDS;
const T0 = 1_767_225_600; // 2026-01-01T00:00:00Z, an hour boundary

function count(store: Store, table: string): number {
  const db = new Database(store.file, { readonly: true });
  try {
    return (db.query(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

type Row = { ts: number } & Record<string, number | null>;

function columnsOf(gpuId: number, rows: Row[]): SampleColumns {
  return { gpuId, ts: rows.map((row) => row.ts), values: SAMPLE_METRICS.map((metric) => rows.map((row) => row[metric.column!] ?? null)) };
}

const row = (ts: number, overrides: Record<string, number | null> = {}): Row => ({
  ts, temperature: 50, memory_used: 40_000_000_000 + ts, memory_free: 45_000_000_000 - ts, gpu_utilization: ts % 101,
  memory_utilization: null, power_mw: 512_340, power_limit_mw: 700_000, fan_speed: null, graphics_clock: 1980, sm_clock: 1980,
  memory_clock: 2619, energy_mj: 48_213_377_190 + ts * 512, performance_state: 0, clock_event_reasons: 0, ecc_errors_corrected: 3,
  ecc_errors_uncorrected: 0, encoder_utilization: 0, decoder_utilization: 14, pcie_link_generation: 5, pcie_link_width: 16,
  pcie_tx_throughput: 1200 + (ts % 7), pcie_rx_throughput: 3400, ...overrides,
});

describe("blocks (pure)", () => {
  test("the agent compacts each span at short intervals, and less often, at most hourly, at long ones", () => {
    const periods = [0.5, 1, 10, 11, 20, 30, 45, 60, 300, 3600].map(compactionPeriodSeconds);
    expect(periods).toEqual([600, 600, 600, 1200, 1200, 1800, 3000, 3600, 3600, 3600]);
    for (const period of periods) expect(period % BLOCK_SECONDS).toBe(0); // each boundary closes a span
  });

  test("a block of one GPU round-trips exactly, irregular times, nulls and free memory without used included", () => {
    const last = T0 + BLOCK_SECONDS - 1;
    const samples = columnsOf(3, [row(T0), row(T0 + 1), row(T0 + 2, { memory_used: null }), row(T0 + 7, { memory_free: null }), row(last, { temperature: null })]);
    const block = encodeBlock(T0, samples);
    expect(block).toMatchObject({ sampleCount: 5, firstTs: T0, lastTs: last });
    expect(decodeBlock(3, T0, block.sampleCount, block.ts, block.columns)).toEqual(samples);
    // Cut to a range: only the samples in [from, to).
    expect(decodeBlock(3, T0, block.sampleCount, block.ts, block.columns, T0 + 1, T0 + 7).ts).toEqual([T0 + 1, T0 + 2]);
  });

  test("a block written before a metric existed has no column for it: its values read as nulls", () => {
    const samples = columnsOf(3, [row(T0), row(T0 + 60)]);
    const block = encodeBlock(T0, samples);
    const withoutPcie = block.columns.map((column, c) => (BLOCK_COLUMNS[c]!.startsWith("pcie_tx") ? null : column));
    const decoded = decodeBlock(3, T0, block.sampleCount, block.ts, withoutPcie);
    const tx = SAMPLE_METRICS.findIndex((metric) => metric.column === "pcie_tx_throughput");
    expect(decoded.values[tx]).toEqual([null, null]);
    expect(decoded.values.filter((_, c) => c !== tx)).toEqual(samples.values.filter((_, c) => c !== tx));
  });

  test("a steady block at 1 s costs far less than a row per sample", () => {
    const samples = columnsOf(3, Array.from({ length: BLOCK_SECONDS }, (_, i) => row(T0 + i)));
    const block = encodeBlock(T0, samples);
    const bytes = block.ts.length + block.columns.reduce((sum, column) => sum + column.length, 0);
    expect(bytes / BLOCK_SECONDS).toBeLessThan(14);
    expect(decodeBlock(3, T0, BLOCK_SECONDS, block.ts, block.columns)).toEqual(samples);
  });

  test("merging keeps time order and the first part's sample on a tie (newer first)", () => {
    const newer = columnsOf(1, [row(T0, { temperature: 1 }), row(T0 + 2)]);
    const older = columnsOf(1, [row(T0, { temperature: 2 }), row(T0 + 1)]);
    const merged = mergeNewerFirst([newer, older]);
    const temperature = SAMPLE_METRICS.findIndex((metric) => metric.column === "temperature");
    expect(merged.ts.map((ts) => ts - T0)).toEqual([0, 1, 2]);
    expect(merged.values[temperature]).toEqual([1, 50, 50]);
  });
});

describe("compaction on a real file", () => {
  function filled(hours: number): Store {
    const store = Store.open(tempDatabase());
    for (let t = 0; t < hours * HOUR; t += 60) writeTick(store, T0 + t, eightGpus(t / 60));
    return store;
  }

  test("closed spans move to blocks whole; every read sees the same samples as before", () => {
    const store = filled(3);
    const before = sampleRows(store);
    expect(before.length).toBe(3 * 60 * 8);
    expect(store.samples.compact(T0 + 2 * HOUR + 59)).toEqual({ spans: 2 * SPANS_PER_HOUR, more: false }); // the third hour's are still open
    expect(count(store, "samples")).toBe(60 * 8);
    expect(count(store, "sample_blocks")).toBe(2 * SPANS_PER_HOUR * 8);
    expect(sampleRows(store)).toEqual(before);
    expect(sampleRows(store, T0 + 1800, T0 + 2 * HOUR + 60)).toEqual(before.filter((r) => (r.ts as number) >= T0 + 1800 && (r.ts as number) < T0 + 2 * HOUR + 60));
    expect(store.samples.firstTs()).toBe(T0);
    expect(store.samples.latestTs()).toBe(T0 + 3 * HOUR - 60);
    // A window's read: the same values from blocks as from rows, cut to the range.
    const series = store.samples.series(T0 + HOUR + 600, T0 + 2 * HOUR + 600);
    expect(series.map((gpu) => gpu.ts.length)).toEqual(new Array(8).fill(60));
    const gpu3 = before.filter((r) => r.gpu_id === 3 && (r.ts as number) >= T0 + HOUR + 600 && (r.ts as number) < T0 + 2 * HOUR + 600);
    expect(series[2]!.ts).toEqual(gpu3.map((r) => r.ts as number));
    SAMPLE_METRICS.forEach((metric, c) => expect(series[2]!.values[c]).toEqual(gpu3.map((r) => r[metric.column!] as number | null)));
    expect(store.samples.compact(T0 + 2 * HOUR + 59)).toEqual({ spans: 0, more: false }); // nothing left to do
    store.close();
  });

  test("a backlog is worked off within a time budget, oldest first", () => {
    const store = filled(3);
    expect(store.samples.compact(T0 + 3 * HOUR, 0)).toEqual({ spans: 1, more: true }); // at least one span per call
    expect(count(store, "sample_blocks")).toBe(8);
    expect(store.samples.compact(T0 + 3 * HOUR)).toEqual({ spans: 3 * SPANS_PER_HOUR - 1, more: false });
    expect(count(store, "samples")).toBe(0);
    store.close();
  });

  test("a sample written into a span already compacted (the clock set back) joins its block; newer wins", () => {
    const store = filled(2);
    store.samples.compact(T0 + HOUR);
    const uuid = "GPU-00000000-0000-0000-0000-000000000000";
    writeTick(store, T0 + 30, [gpuSample({ uuid, temperatureCelsius: 99 })]);
    writeTick(store, T0 + 60, [gpuSample({ uuid, temperatureCelsius: 98 })]);
    const before = sampleRows(store, T0, T0 + HOUR);
    expect(before.filter((r) => r.gpu_id === 1).map((r) => r.temperature).slice(0, 3)).toEqual([40, 99, 98]);
    expect(before.filter((r) => r.ts === T0 + 60)).toHaveLength(8); // no duplicate for the GPU written twice
    const gpu1 = () => store.samples.series(T0, T0 + 120).find((series) => series.gpuId === 1)!;
    const temperature = SAMPLE_METRICS.findIndex((metric) => metric.column === "temperature");
    expect(gpu1().values[temperature]!.slice(0, 3)).toEqual([40, 99, 98]);
    expect(gpu1().ts.slice(0, 3)).toEqual([T0, T0 + 30, T0 + 60]);
    expect(store.samples.compact(T0 + HOUR).spans).toBe(1);
    expect(sampleRows(store, T0, T0 + HOUR)).toEqual(before);
    expect(gpu1().values[temperature]!.slice(0, 3)).toEqual([40, 99, 98]);
    store.close();
  });

  test("a failure inside compaction leaves the span's rows where they were", () => {
    const store = filled(2);
    const before = sampleRows(store);
    const db = new Database(store.file);
    db.exec("CREATE TRIGGER refuse BEFORE INSERT ON sample_blocks WHEN NEW.gpu_id = 5 BEGIN SELECT RAISE(ABORT, 'disk says no'); END");
    db.close();
    expect(() => store.samples.compact(T0 + HOUR)).toThrow(/disk says no/);
    expect(count(store, "samples")).toBe(2 * 60 * 8);
    expect(count(store, "sample_blocks")).toBe(0);
    expect(sampleRows(store)).toEqual(before);
    store.close();
  });

  test("retention deletes blocks wholly older than the cutoff and counts their samples", async () => {
    const store = filled(3);
    store.samples.compact(T0 + 3 * HOUR);
    const cutoff = T0 + 2 * HOUR + 1830; // inside a span: that span is not wholly older, and stays
    const result = await pruneOldData(store, cutoff + 30 * 86_400, { rawDays: 30, aggregatedDays: 365 });
    expect(result.samples).toBe((2 * 60 + 30) * 8);
    expect(store.samples.firstTs()).toBe(T0 + 2 * HOUR + 1800);
    expect(sampleRows(store)).toHaveLength(30 * 8);
    store.close();
  });
});
