// The store on real SQLite files.

import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { aggregateClosedWindows } from "../../src/aggregate/aggregator.ts";
import { openDatabase, StoreError } from "../../src/store/database.ts";
import { pruneOldData } from "../../src/store/retention.ts";
import { SCHEMA_VERSION } from "../../src/store/schema.ts";
import { Store } from "../../src/store/store.ts";
import { REPO } from "../helpers/fakeNvml.ts";
import { eightGpus, gpuSample, sampleRows, tempDatabase, writeTick } from "../helpers/samples.ts";

/** A second connection to the same file, for looking at what the store wrote. */
function sql(file: string): Database {
  return new Database(file, { readonly: true });
}

describe("opening", () => {
  test("creates the file and its folder, owner-only, WAL, at the current schema", () => {
    const file = tempDatabase().replace("gpu_metrics.db", "sub/dir/gpu_metrics.db");
    const db = openDatabase(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(db.query("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
    expect(db.query("PRAGMA synchronous").get()).toEqual({ synchronous: 2 }); // FULL
    expect(db.query("PRAGMA foreign_keys").get()).toEqual({ foreign_keys: 1 });
    expect(db.query("PRAGMA user_version").get()).toEqual({ user_version: SCHEMA_VERSION });
    db.close();
    expect(() => Store.open(file).close()).not.toThrow(); // reopening migrates nothing twice
  });

  test("a database from a newer gpu_monitor is refused", () => {
    const file = tempDatabase();
    Store.open(file).close();
    const raw = new Database(file);
    raw.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    expect(() => Store.open(file)).toThrow(/written by a newer gpu_monitor/);
  });

  test("a corrupt file is named, with what to do, and left untouched", () => {
    const file = tempDatabase();
    writeFileSync(file, "this is not a database ".repeat(200));
    const before = readFileSync(file);
    expect(() => Store.open(file)).toThrow(StoreError);
    try {
      Store.open(file);
    } catch (error) {
      expect((error as Error).message).toContain(`database ${file} is corrupt or not a gpu_monitor database`);
      expect((error as Error).message).toContain("move it aside");
    }
    expect(readFileSync(file).equals(before)).toBe(true);
  });

  test("query commands open read-only and never create a database", () => {
    const file = tempDatabase();
    expect(() => Store.open(file, { readonly: true })).toThrow(/no database at .* yet/);
  });

  test("a database locked by a long writer: waits the busy timeout, then a clear error", () => {
    const file = tempDatabase();
    Store.open(file).close();
    const writer = new Database(file);
    writer.exec("BEGIN IMMEDIATE");
    const store = Store.open(file, { busyTimeoutMs: 200 });
    const started = performance.now();
    expect(() => writeTick(store, 1000, [gpuSample()])).toThrow(/is locked by another process .*still after waiting/);
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    writer.exec("ROLLBACK");
    writeTick(store, 1000, [gpuSample()]); // and works again once the writer is done
    expect(sampleRows(store, 0, 2000)).toHaveLength(1);
    store.close();
    writer.close();
  });
});

describe("ticks", () => {
  test("one tick stores every GPU with typed values and one identity row per GPU", () => {
    const store = Store.open(tempDatabase());
    writeTick(store, 1000, eightGpus(0));
    writeTick(store, 1001, eightGpus(1));
    expect(sql(store.file).query("SELECT count(*) AS n FROM gpus").get()).toEqual({ n: 8 });
    const rows = sampleRows(store, 1000, 1002);
    expect(rows).toHaveLength(16);
    expect(rows[0]).toMatchObject({
      ts: 1000,
      uid: "GPU-00000000-0000-0000-0000-000000000000",
      temperature: 40,
      power_mw: 300000,
      memory_total: 85520809984,
      energy_mj: 1_000_000_000,
    });
    expect(sql(store.file).query("SELECT typeof(power_mw) AS t, typeof(memory_used) AS m FROM samples LIMIT 1").get()).toEqual({
      t: "integer",
      m: "integer",
    });
    expect(store.samples.firstTs()).toBe(1000);
    expect(store.samples.latestTs()).toBe(1001);
    store.close();
  });

  test("a reader sees committed ticks while the writer goes on (WAL)", () => {
    const file = tempDatabase();
    const writer = Store.open(file);
    writeTick(writer, 1000, [gpuSample()]);
    const reader = Store.open(file, { readonly: true });
    writeTick(writer, 1001, [gpuSample()]);
    expect(sampleRows(reader, 0, 5000).map((r) => r.ts)).toEqual([1000, 1001]);
    reader.close();
    writer.close();
  });

  test("a process killed inside a tick's transaction loses that tick only", async () => {
    const file = tempDatabase();
    const store = Store.open(file);
    writeTick(store, 1000, eightGpus(0));
    store.close();
    // A child that stores tick 1001 and dies (SIGKILL) in the middle of tick 1002's transaction.
    const child = Bun.spawn(
      [
        process.execPath,
        "-e",
        `
        import { Database } from "bun:sqlite";
        import { Store } from "${REPO}/src/store/store.ts";
        import { eightGpus, tickGpus } from "${REPO}/test/helpers/samples.ts";
        const store = Store.open(${JSON.stringify(file)});
        store.samples.writeTick(1001, tickGpus(eightGpus(1)));
        const db = new Database(${JSON.stringify(file)});
        db.exec("BEGIN");
        db.query("INSERT INTO samples (ts, gpu_id, temperature) VALUES (1002, 1, 99)").run();
        console.log("inside");
        await Bun.sleep(60000);
        `,
      ],
      { stdout: "pipe" },
    );
    const reader = child.stdout.getReader();
    const { value } = await reader.read();
    expect(new TextDecoder().decode(value)).toContain("inside");
    child.kill("SIGKILL");
    await child.exited;
    const reopened = Store.open(file);
    expect(sql(file).query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
    expect(sampleRows(reopened, 0, 5000).map((r) => r.ts).filter((t, i, a) => a.indexOf(t) === i)).toEqual([1000, 1001]);
    reopened.close();
  });
});

describe("windows", () => {
  test("closed windows are aggregated once, with gaps as coverage 0", () => {
    const store = Store.open(tempDatabase());
    for (let t = 1000; t < 1010; t++) writeTick(store, t, eightGpus(t)); // window [1000, 1010): full
    for (let t = 1010; t < 1013; t++) writeTick(store, t, eightGpus(t)); // [1010, 1020): 3 of 10
    // [1020, 1040): the agent was down; [1040, 1050): back
    for (let t = 1040; t < 1050; t++) writeTick(store, t, eightGpus(t));
    const written = aggregateClosedWindows(store, 1050, { periodSeconds: 10, intervalSeconds: 1 });
    expect(written).toEqual([1000, 1010, 1020, 1030, 1040]);
    const coverage = sql(store.file)
      .query("SELECT window_start, round(avg(coverage), 2) AS c, count(*) AS gpus FROM aggregates GROUP BY window_start ORDER BY 1")
      .all();
    expect(coverage).toEqual([
      { window_start: 1000, c: 1, gpus: 8 },
      { window_start: 1010, c: 0.3, gpus: 8 },
      { window_start: 1020, c: 0, gpus: 8 },
      { window_start: 1030, c: 0, gpus: 8 },
      { window_start: 1040, c: 1, gpus: 8 },
    ]);
    // Run again: nothing new, nothing changed.
    expect(aggregateClosedWindows(store, 1050, { periodSeconds: 10, intervalSeconds: 1 })).toEqual([]);
    expect(store.windows.write(1000, 10, 1, 9999, [])).toBe(false);
    // Energy: 500 J per tick per GPU, counted across the window boundary too.
    const energy = sql(store.file).query("SELECT energy_mj FROM aggregates WHERE window_start = 1000 AND gpu_id = 1").get();
    expect(energy).toEqual({ energy_mj: 9 * 500_000 });
    const second = sql(store.file).query("SELECT energy_mj FROM aggregates WHERE window_start = 1010 AND gpu_id = 1").get();
    expect(second).toEqual({ energy_mj: 3 * 500_000 });
    store.close();
  });

  test("a GPU lost mid-way gets coverage-0 records in the windows after, not silence", () => {
    const store = Store.open(tempDatabase());
    for (let t = 1000; t < 1030; t++) writeTick(store, t, t < 1015 ? eightGpus(t) : eightGpus(t).slice(0, 7)); // GPU 8 lost at 1015
    aggregateClosedWindows(store, 1030, { periodSeconds: 10, intervalSeconds: 1 });
    const lost = sql(store.file).query("SELECT window_start, sample_count, coverage FROM aggregates WHERE gpu_id = 8 ORDER BY 1").all();
    expect(lost).toEqual([
      { window_start: 1000, sample_count: 10, coverage: 1 },
      { window_start: 1010, sample_count: 5, coverage: 0.5 },
      { window_start: 1020, sample_count: 0, coverage: 0 },
    ]);
    store.close();
  });

  test("a MIG device gone from the layout is in no window after its last sample: a destroyed slice is not an outage", () => {
    const store = Store.open(tempDatabase());
    const gpu = gpuSample({ uuid: "GPU-00000000-0000-0000-0000-000000000000", migMode: true });
    const slice = gpuSample({ uuid: "MIG-11111111-2222-5333-8444-555555555555", parentUuid: gpu.uuid, gpuInstanceId: 9, computeInstanceId: 0, migProfile: "1g.10gb" });
    // the slice destroyed at 1015 (layout change or MIG turned off); the GPU goes on, then the agent is down from 1025
    for (let t = 1000; t < 1025; t++) writeTick(store, t, t < 1015 ? [gpu, slice] : [gpu]);
    aggregateClosedWindows(store, 1040, { periodSeconds: 10, intervalSeconds: 1 });
    const rows = sql(store.file).query("SELECT window_start, uid, sample_count, coverage FROM aggregates JOIN gpus ON gpus.id = gpu_id ORDER BY 1, 2").all();
    expect(rows).toEqual([
      { window_start: 1000, uid: gpu.uuid, sample_count: 10, coverage: 1 },
      { window_start: 1000, uid: slice.uuid, sample_count: 10, coverage: 1 },
      { window_start: 1010, uid: gpu.uuid, sample_count: 10, coverage: 1 },
      { window_start: 1010, uid: slice.uuid, sample_count: 5, coverage: 0.5 },
      // the GPU itself is still expected while the agent is down; the slice is not
      { window_start: 1020, uid: gpu.uuid, sample_count: 5, coverage: 0.5 },
      { window_start: 1030, uid: gpu.uuid, sample_count: 0, coverage: 0 },
    ]);
    store.close();
  });

  test("a new window length starts after the last stored window: no sample is counted twice", () => {
    const store = Store.open(tempDatabase());
    for (let t = 1000; t < 1100; t++) writeTick(store, t, eightGpus(t).slice(0, 1));
    aggregateClosedWindows(store, 1040, { periodSeconds: 10, intervalSeconds: 1 }); // 1000..1039
    aggregateClosedWindows(store, 1100, { periodSeconds: 15, intervalSeconds: 1 }); // then 15 s windows
    const windows = sql(store.file).query("SELECT start, period_seconds AS p FROM windows ORDER BY start").all() as Array<{ start: number; p: number }>;
    for (let i = 1; i < windows.length; i++) expect(windows[i]!.start).toBeGreaterThanOrEqual(windows[i - 1]!.start + windows[i - 1]!.p);
    expect(windows.at(-1)).toEqual({ start: 1080, p: 15 });
    store.close();
  });

  test("retention deletes old samples and windows in batches, leaving the rest", async () => {
    const store = Store.open(tempDatabase());
    const day = 86_400;
    const now = 100 * day;
    for (const t of [now - 40 * day, now - 31 * day, now - 29 * day, now - 1]) writeTick(store, t, eightGpus(0));
    store.windows.write(now - 400 * day, 3600, 60, now, []);
    store.windows.write(now - 300 * day, 3600, 60, now, []);
    let pauses = 0;
    const result = await pruneOldData(store, now, { rawDays: 30, aggregatedDays: 365 }, {
      batchRows: 5,
      yieldBetween: async () => void pauses++,
    });
    expect(result.samples).toBe(16);
    expect(result.windows).toBe(1);
    expect(pauses).toBeGreaterThanOrEqual(3); // 16 rows in batches of 5
    expect(sampleRows(store, 0, now + 1).map((r) => r.ts).filter((t, i, a) => a.indexOf(t) === i)).toEqual([
      now - 29 * day,
      now - 1,
    ]);
    store.close();
  });
});
