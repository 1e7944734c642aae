// Raw samples: each tick's rows, compacted into blocks once their 10-minute span
// has closed, and read back as one shape, per-GPU columns, with rows and blocks
// merged in one place (the newer sample wins).

import type { Database, Statement } from "bun:sqlite";
import { SAMPLE_METRICS } from "../metrics/catalog.ts";
import { BLOCK_COLUMNS, BLOCK_SECONDS, blockStart, decodeBlock, encodeBlock } from "./blocks.ts";
import { concatColumns, emptyColumns, mergeNewerFirst, type SampleColumns } from "./columns.ts";
import { asStoreError, tableColumns } from "./database.ts";
import type { GpuIdentityValues, GpuStore } from "./gpus.ts";
import type { TickProcesses } from "../aggregate/attribution.ts";
import type { ProcessStore } from "./processes.ts";

const SAMPLE_COLUMNS = SAMPLE_METRICS.map((metric) => metric.column!);
const COUNT = SAMPLE_COLUMNS.length;

/** One GPU's reading of one tick, as stored: identity and sample values in catalog order. */
export interface TickGpu {
  identity: GpuIdentityValues;
  /** null: the GPU answered who it is but nothing else (unreadable): it is kept as present, with no sample. */
  values: ReadonlyArray<number | null> | null;
  /** Who used it this tick (absent when collection.processes is off). */
  processes?: TickProcesses;
}

export class SampleStore {
  private readonly insert: Statement;
  /** What reads select: a column an older database lacks reads as NULL. */
  private readonly rowColumns: string;
  private readonly blockColumns: string;

  constructor(
    private readonly db: Database,
    private readonly file: string,
    private readonly gpus: GpuStore,
    readonly: boolean,
    private readonly processes: ProcessStore | null = null,
  ) {
    this.insert = readonly
      ? (null as unknown as Statement)
      : db.prepare(`INSERT OR REPLACE INTO samples (ts, gpu_id, ${SAMPLE_COLUMNS.join(", ")}) VALUES (?, ?, ${SAMPLE_COLUMNS.map(() => "?").join(", ")})`);
    const rows = tableColumns(db, "samples");
    const blocks = tableColumns(db, "sample_blocks");
    this.rowColumns = SAMPLE_COLUMNS.map((column) => (rows.has(column) ? column : "NULL")).join(", ");
    this.blockColumns = BLOCK_COLUMNS.map((column) => (blocks.has(column) ? column : "NULL")).join(", ");
  }

  /** Stores one tick's readings in one transaction: all of it or nothing. */
  writeTick(ts: number, gpus: readonly TickGpu[]): void {
    this.writeTicks([{ ts, gpus }]);
  }

  /**
   * Stores ticks (those the agent kept while the database was locked or full) in one
   * transaction: all of them or none. IMMEDIATE takes the write lock first, so a busy
   * database is waited for (busy_timeout); a deferred transaction upgrading to write in
   * WAL mode would fail at once.
   */
  writeTicks(ticks: ReadonlyArray<{ ts: number; gpus: readonly TickGpu[] }>): void {
    try {
      this.db.transaction(() => {
        for (const { ts, gpus } of ticks) {
          for (const gpu of gpus) {
            const id = this.gpus.upsert(gpu.identity, ts);
            if (gpu.values) this.insert.run(ts, id, ...(gpu.values as Array<number | null>));
            if (gpu.processes) this.processes?.recordTick(ts, id, gpu.processes);
          }
        }
      }).immediate();
    } catch (error) {
      this.gpus.forgetIds();
      this.processes?.forgetIds();
      throw asStoreError(error, this.file);
    }
  }

  firstTs(): number | null {
    return this.edge("min", "first_ts");
  }

  latestTs(): number | null {
    return this.edge("max", "last_ts");
  }

  /** The oldest or newest sample time, rows and blocks alike; blocks through their index: one span's, never a scan of all. */
  private edge(which: "min" | "max", blockTs: "first_ts" | "last_ts"): number | null {
    const query = `SELECT ${which}(ts) AS ts FROM (SELECT ${which}(ts) AS ts FROM samples
      UNION ALL SELECT ${which}(${blockTs}) FROM sample_blocks WHERE start = (SELECT ${which}(start) FROM sample_blocks))`;
    return (this.db.query(query).get() as { ts: number | null }).ts;
  }

  /**
   * Every sample with ts in [from, to), a block span (10 minutes) at a time: per
   * span, one SampleColumns per GPU that has samples there (only `gpuId`'s when
   * given), ordered by GPU id. Memory stays that of one span whatever the range.
   * The only read of samples.
   */
  *spans(from: number, to: number, gpuId?: number): Generator<SampleColumns[]> {
    const first = this.firstTs();
    const latest = this.latestTs();
    if (first === null || latest === null) return;
    const lo = Math.max(from, first);
    const hi = Math.min(to, latest + 1);
    const readRows = this.db.query(
      `SELECT gpu_id, ts, ${this.rowColumns} FROM samples WHERE ts >= ?1 AND ts < ?2 AND (?3 IS NULL OR gpu_id = ?3) ORDER BY gpu_id, ts`,
    );
    const readBlocks = this.db.query(
      `SELECT gpu_id, sample_count, ts, ${this.blockColumns} FROM sample_blocks WHERE start = ?1 AND (?2 IS NULL OR gpu_id = ?2) ORDER BY gpu_id`,
    );
    const gpu = gpuId ?? null;
    for (let span = blockStart(lo); span < hi; span += BLOCK_SECONDS) {
      // Rows first: a sample written after its span was compacted (the clock was set back) wins.
      const parts = new Map<number, SampleColumns[]>();
      const add = (part: SampleColumns) => {
        const list = parts.get(part.gpuId);
        if (list) list.push(part);
        else parts.set(part.gpuId, [part]);
      };
      let rows: SampleColumns | null = null;
      for (const row of readRows.values(Math.max(lo, span), Math.min(hi, span + BLOCK_SECONDS), gpu) as Array<Array<number | null>>) {
        if (rows === null || rows.gpuId !== row[0]) add((rows = emptyColumns(row[0] as number, COUNT)));
        rows.ts.push(row[1] as number);
        for (let c = 0; c < COUNT; c++) rows.values[c]!.push(row[2 + c]!);
      }
      for (const block of readBlocks.values(span, gpu) as unknown[][]) {
        add(decodeBlock(block[0] as number, span, block[1] as number, block[2] as Uint8Array, block.slice(3) as Array<Uint8Array | null>, lo, hi));
      }
      const merged = [...parts.keys()]
        .sort((a, b) => a - b)
        .map((gpuId) => mergeNewerFirst(parts.get(gpuId)!))
        .filter((columns) => columns.ts.length > 0);
      if (merged.length > 0) yield merged;
    }
  }

  /** Every sample with ts in [from, to), one SampleColumns per GPU (only `gpuId`'s when given), ordered by GPU id: a window's worth. */
  series(from: number, to: number, gpuId?: number): SampleColumns[] {
    const pieces = new Map<number, SampleColumns[]>();
    for (const span of this.spans(from, to, gpuId)) {
      for (const columns of span) {
        const list = pieces.get(columns.gpuId);
        if (list) list.push(columns);
        else pieces.set(columns.gpuId, [columns]);
      }
    }
    return [...pieces.keys()].sort((a, b) => a - b).map((gpuId) => concatColumns(pieces.get(gpuId)!));
  }

  /** The GPUs with samples in [from, to), rows or blocks, by id. */
  gpusBetween(from: number, to: number): number[] {
    return (
      this.db
        .query(
          `SELECT gpu_id FROM samples WHERE ts >= ?1 AND ts < ?2
           UNION SELECT gpu_id FROM sample_blocks WHERE start >= ?3 AND start < ?2 AND last_ts >= ?1 AND first_ts < ?2 ORDER BY 1`,
        )
        .values(from, to, blockStart(from)) as number[][]
    ).map((row) => row[0]!);
  }

  /**
   * Compacts the raw samples of spans ending at or before `until` into blocks,
   * oldest first, and no new span once `budgetMs` is spent (one always goes). Each span is one
   * transaction: its rows move to blocks whole or not at all. Returns the spans done
   * and whether any are left.
   */
  compact(until: number, budgetMs = Infinity): { spans: number; more: boolean } {
    const started = performance.now();
    let spans = 0;
    for (;;) {
      const oldest = (this.db.query("SELECT min(ts) AS ts FROM samples").get() as { ts: number | null }).ts;
      if (oldest === null || blockStart(oldest) + BLOCK_SECONDS > until) return { spans, more: false };
      if (spans > 0 && performance.now() - started >= budgetMs) return { spans, more: true };
      this.compactSpan(blockStart(oldest));
      spans++;
    }
  }

  private compactSpan(span: number): void {
    const write = this.db.query(
      `INSERT OR REPLACE INTO sample_blocks (start, gpu_id, sample_count, first_ts, last_ts, ts, ${BLOCK_COLUMNS.join(", ")})
       VALUES (${new Array(6 + BLOCK_COLUMNS.length).fill("?").join(", ")})`,
    );
    try {
      this.db.transaction(() => {
        // A span compacted before (the clock was set back into it) is read whole, rows over its block.
        // One GPU at a time: what a span of every GPU would allocate at once stays as the process's high-water mark.
        for (const gpuId of this.gpusBetween(span, span + BLOCK_SECONDS)) {
          for (const gpu of this.series(span, span + BLOCK_SECONDS, gpuId)) {
            const block = encodeBlock(span, gpu);
            write.run(span, gpu.gpuId, block.sampleCount, block.firstTs, block.lastTs, block.ts, ...block.columns);
          }
        }
        this.db.query("DELETE FROM samples WHERE ts >= ? AND ts < ?").run(span, span + BLOCK_SECONDS);
      }).immediate();
    } catch (error) {
      throw asStoreError(error, this.file);
    }
  }

  /**
   * Deletes the oldest raw rows older than `before`: whole ticks up to the one
   * holding the `limit`-th row, as one range of the primary key. Returns how many went.
   */
  pruneRows(before: number, limit: number): number {
    return this.db
      .query(
        `DELETE FROM samples WHERE ts < ?1
           AND ts <= coalesce((SELECT ts FROM samples WHERE ts < ?1 ORDER BY ts LIMIT 1 OFFSET ?2), ?1)`,
      )
      .run(before, Math.max(0, limit - 1)).changes;
  }

  /**
   * Deletes up to `limit` blocks wholly older than `before` (a block straddling it
   * waits until it is all old). Returns the blocks and the samples they held.
   */
  pruneBlocks(before: number, limit: number): { blocks: number; samples: number } {
    try {
      return this.db.transaction(() => {
        const victims = this.db
          .query("SELECT id, sample_count FROM sample_blocks WHERE start <= ? ORDER BY start LIMIT ?")
          .all(before - BLOCK_SECONDS, limit) as Array<{ id: number; sample_count: number }>;
        const remove = this.db.query("DELETE FROM sample_blocks WHERE id = ?");
        for (const victim of victims) remove.run(victim.id);
        return { blocks: victims.length, samples: victims.reduce((sum, victim) => sum + victim.sample_count, 0) };
      }).immediate();
    } catch (error) {
      throw asStoreError(error, this.file);
    }
  }
}
