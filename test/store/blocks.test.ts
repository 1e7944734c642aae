// Compaction of closed hours into blocks, on real SQLite files: the same samples
// come back, nothing is lost on the way, and old blocks are pruned.

import { describe, expect, test } from "bun:test";
import { BLOCK_SECONDS, blockColumns, compactionPeriodSeconds, encodeBlock, mergeOrdered, rowsOfColumns, type SampleRow } from "../../src/store/sampleBlocks.ts";
import { pruneOldData } from "../../src/store/retention.ts";
import { Store } from "../../src/store/store.ts";
import { eightGpus, gpuSample, tempDatabase } from "../helpers/samples.ts";

const HOUR = 3600;
const SPANS_PER_HOUR = HOUR / BLOCK_SECONDS;
const T0 = 1_767_225_600; // 2026-01-01T00:00:00Z, an hour boundary

function allRows(store: Store, from = 0, to = 2 ** 40) {
  return [...store.samplesBetween(from, to)];
}

function rawRowCount(store: Store): number {
  return (store.db.query("SELECT count(*) AS n FROM samples").get() as { n: number }).n;
}

describe("blocks (pure)", () => {
  test("the agent compacts each span at short intervals, and less often, at most hourly, at long ones", () => {
    const periods = [0.5, 1, 10, 11, 20, 30, 45, 60, 300, 3600].map(compactionPeriodSeconds);
    expect(periods).toEqual([600, 600, 600, 1200, 1200, 1800, 3000, 3600, 3600, 3600]);
    for (const period of periods) expect(period % BLOCK_SECONDS).toBe(0); // each boundary closes a span
  });

  const row = (ts: number, overrides: Partial<SampleRow> = {}): SampleRow => ({
    ts, gpu_id: 3, temperature: 50, memory_used: 40_000_000_000 + ts, memory_free: 45_000_000_000 - ts, gpu_utilization: ts % 101,
    memory_utilization: null, power_mw: 512_340, power_limit_mw: 700_000, fan_speed: null, graphics_clock: 1980, sm_clock: 1980,
    memory_clock: 2619, energy_mj: 48_213_377_190 + ts * 512, performance_state: 0, clock_event_reasons: 0, ecc_errors_corrected: 3,
    ecc_errors_uncorrected: 0, encoder_utilization: 0, decoder_utilization: 14, pcie_link_generation: 5, pcie_link_width: 16, ...overrides,
  });

  test("a block of one GPU round-trips exactly, irregular times, nulls and free memory without used included", () => {
    const last = T0 + BLOCK_SECONDS - 1;
    const rows = [row(T0), row(T0 + 1), row(T0 + 2, { memory_used: null }), row(T0 + 7, { memory_free: null }), row(last, { temperature: null })];
    const block = encodeBlock(T0, rows);
    expect(block).toMatchObject({ sampleCount: 5, firstTs: T0, lastTs: last });
    expect(rowsOfColumns([blockColumns(3, T0, block.sampleCount, block.ts, block.columns)])).toEqual(rows);
  });

  test("a steady block at 1 s costs far less than a row per sample", () => {
    const rows = Array.from({ length: BLOCK_SECONDS }, (_, i) => row(T0 + i));
    const block = encodeBlock(T0, rows);
    const bytes = block.ts.length + block.columns.reduce((sum, column) => sum + column.length, 0);
    expect(bytes / BLOCK_SECONDS).toBeLessThan(12);
    expect(rowsOfColumns([blockColumns(3, T0, BLOCK_SECONDS, block.ts, block.columns)])).toEqual(rows);
  });

  test("merging keeps (ts, gpu) order and the earlier list's sample on a tie", () => {
    const a = [row(T0, { gpu_id: 1, temperature: 1 }), row(T0 + 2, { gpu_id: 1 })];
    const b = [row(T0, { gpu_id: 1, temperature: 2 }), row(T0, { gpu_id: 2 }), row(T0 + 1, { gpu_id: 1 })];
    const merged = mergeOrdered([a, b]);
    expect(merged.map((r) => [r.ts - T0, r.gpu_id, r.temperature])).toEqual([
      [0, 1, 1],
      [0, 2, 50],
      [1, 1, 50],
      [2, 1, 50],
    ]);
  });
});

describe("compaction on a real file", () => {
  function filled(hours: number): Store {
    const store = Store.open(tempDatabase());
    for (let t = 0; t < hours * HOUR; t += 60) store.writeTick(T0 + t, eightGpus(t / 60));
    return store;
  }

  test("closed spans move to blocks whole; every read sees the same samples as before", () => {
    const store = filled(3);
    const before = allRows(store);
    expect(before.length).toBe(3 * 60 * 8);
    expect(store.compactBlocks(T0 + 2 * HOUR + 59, { maxBlocks: 100 })).toBe(2 * SPANS_PER_HOUR); // the third hour's are still open
    expect(rawRowCount(store)).toBe(60 * 8);
    expect((store.db.query("SELECT count(*) AS n FROM sample_blocks").get() as { n: number }).n).toBe(2 * SPANS_PER_HOUR * 8);
    expect(allRows(store)).toEqual(before);
    expect(allRows(store, T0 + 1800, T0 + 2 * HOUR + 60)).toEqual(before.filter((r) => r.ts >= T0 + 1800 && r.ts < T0 + 2 * HOUR + 60));
    expect(store.firstSampleTs()).toBe(T0);
    expect(store.latestSampleTs()).toBe(T0 + 3 * HOUR - 60);
    // Aggregation's columns: the same values from blocks as from rows, cut to the window.
    const fromBlocks = store.windowSeries(T0 + HOUR + 600, T0 + 2 * HOUR + 600);
    expect(fromBlocks.map((series) => series.ts.length)).toEqual(new Array(8).fill(60));
    const gpu3 = before.filter((r) => r.gpu_id === 3 && r.ts >= T0 + HOUR + 600 && r.ts < T0 + 2 * HOUR + 600);
    expect(fromBlocks[2]!.ts).toEqual(gpu3.map((r) => r.ts));
    expect(fromBlocks[2]!.metrics.memory_free).toEqual(gpu3.map((r) => r.memory_free));
    expect(fromBlocks[2]!.metrics.power_mw).toEqual(gpu3.map((r) => r.power_mw));
    expect(fromBlocks[2]!.energy).toEqual(gpu3.map((r) => r.energy_mj));
    expect(store.lastSamplesBefore(T0 + HOUR, 120).get(1)).toEqual({ ts: T0 + HOUR - 60, energy_mj: before.find((r) => r.ts === T0 + HOUR - 60)!.energy_mj });
    expect(store.compactBlocks(T0 + 2 * HOUR + 59, { maxBlocks: 100 })).toBe(0); // nothing left to do
    store.close();
  });

  test("at most the given number of spans per call, oldest first", () => {
    const store = filled(3);
    expect(store.compactBlocks(T0 + 3 * HOUR, { maxBlocks: 1 })).toBe(1);
    expect(store.db.query("SELECT DISTINCT start FROM sample_blocks").all()).toEqual([{ start: T0 }]);
    expect(store.compactBlocks(T0 + 3 * HOUR, { maxBlocks: 5 })).toBe(5);
    expect(store.compactBlocks(T0 + 3 * HOUR, { maxBlocks: 100 })).toBe(3 * SPANS_PER_HOUR - 6);
    expect(rawRowCount(store)).toBe(0);
    store.close();
  });

  test("a sample written into a span already compacted (the clock set back) joins its block; newer wins", () => {
    const store = filled(2);
    store.compactBlocks(T0 + HOUR, { maxBlocks: 10 });
    store.writeTick(T0 + 30, [gpuSample({ uuid: "GPU-00000000-0000-0000-0000-000000000000", temperatureCelsius: 99 })]);
    store.writeTick(T0 + 60, [gpuSample({ uuid: "GPU-00000000-0000-0000-0000-000000000000", temperatureCelsius: 98 })]);
    const before = allRows(store, T0, T0 + HOUR);
    expect(before.filter((r) => r.gpu_id === 1).map((r) => r.temperature).slice(0, 3)).toEqual([40, 99, 98]);
    expect(before.filter((r) => r.ts === T0 + 60)).toHaveLength(8); // no duplicate for the GPU written twice
    // Aggregation's reads see the newer samples too, before and after the span is compacted again.
    const gpu1 = () => store.windowSeries(T0, T0 + 120).find((series) => series.gpuId === 1)!;
    expect(gpu1().metrics.temperature.slice(0, 3)).toEqual([40, 99, 98]);
    expect(gpu1().ts.slice(0, 3)).toEqual([T0, T0 + 30, T0 + 60]);
    expect(store.lastSamplesBefore(T0 + 61, 60).get(1)!.ts).toBe(T0 + 60);
    expect(store.compactBlocks(T0 + HOUR, { maxBlocks: 10 })).toBe(1);
    expect(allRows(store, T0, T0 + HOUR)).toEqual(before);
    expect(gpu1().metrics.temperature.slice(0, 3)).toEqual([40, 99, 98]);
    store.close();
  });

  test("a failure inside compaction leaves the span's rows where they were", () => {
    const store = filled(2);
    const before = allRows(store);
    store.db.exec("CREATE TRIGGER refuse BEFORE INSERT ON sample_blocks WHEN NEW.gpu_id = 5 BEGIN SELECT RAISE(ABORT, 'disk says no'); END");
    expect(() => store.compactBlocks(T0 + HOUR, { maxBlocks: 10 })).toThrow(/disk says no/);
    expect(rawRowCount(store)).toBe(2 * 60 * 8);
    expect((store.db.query("SELECT count(*) AS n FROM sample_blocks").get() as { n: number }).n).toBe(0);
    expect(allRows(store)).toEqual(before);
    store.close();
  });

  test("retention deletes blocks wholly older than the cutoff and counts their samples", async () => {
    const store = filled(3);
    store.compactBlocks(T0 + 3 * HOUR);
    const cutoff = T0 + 2 * HOUR + 1830; // inside a span: that span is not wholly older, and stays
    const result = await pruneOldData(store, cutoff + 30 * 86_400, { rawDays: 30, aggregatedDays: 365 });
    expect(result.samples).toBe((2 * 60 + 30) * 8);
    expect(store.firstSampleTs()).toBe(T0 + 2 * HOUR + 1800);
    expect(allRows(store)).toHaveLength(30 * 8);
    store.close();
  });
});
