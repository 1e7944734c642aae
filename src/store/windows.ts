// Closed aggregation windows and each GPU's summary of them. The send ledger's
// state lives on the same rows (ledger.ts).

import type { Database } from "bun:sqlite";
import { asStoreError, tableColumns } from "./database.ts";
import { AGGREGATE_COLUMNS } from "./schema.ts";

/** One GPU's summary of one window: `values` in AGGREGATE_COLUMNS order. */
export interface GpuWindowSummary {
  gpuId: number;
  sampleCount: number;
  /** Samples seen / samples expected for the window, at most 1. */
  coverage: number;
  values: ReadonlyArray<number | string | null>;
}

/** One GPU's stored summary of one window, as read back: `values` by AGGREGATE_COLUMNS name. */
export interface StoredWindowGpu {
  windowStart: number;
  periodSeconds: number;
  gpuId: number;
  sampleCount: number;
  coverage: number;
  values: Readonly<Record<string, number | string | null>>;
}

export class WindowStore {
  private readonly readColumns: string;

  constructor(
    private readonly db: Database,
    private readonly file: string,
  ) {
    const have = tableColumns(db, "aggregates");
    this.readColumns = AGGREGATE_COLUMNS.map((column) => (have.has(column) ? column : "NULL")).join(", ");
  }

  has(start: number): boolean {
    return this.db.query("SELECT 1 FROM windows WHERE start = ?").get(start) !== null;
  }

  /** The first stored window's start, or null. */
  firstStart(): number | null {
    const row = this.db.query("SELECT start FROM windows ORDER BY start LIMIT 1").get() as { start: number } | null;
    return row?.start ?? null;
  }

  /** The last stored window's end, or null. */
  lastEnd(): number | null {
    const row = this.db.query("SELECT start + period_seconds AS end FROM windows ORDER BY start DESC LIMIT 1").get() as { end: number } | null;
    return row?.end ?? null;
  }

  /** Stores a closed window once; a window already stored is never changed. False when it was. */
  write(start: number, periodSeconds: number, intervalSeconds: number, aggregatedAt: number, gpus: readonly GpuWindowSummary[]): boolean {
    const insertWindow = this.db.prepare(
      `INSERT OR IGNORE INTO windows (start, period_seconds, interval_seconds, aggregated_at) VALUES (?, ?, ?, ?)`,
    );
    const insertGpu = this.db.prepare(
      `INSERT INTO aggregates (window_start, gpu_id, sample_count, coverage, ${AGGREGATE_COLUMNS.join(", ")})
       VALUES (?, ?, ?, ?, ${AGGREGATE_COLUMNS.map(() => "?").join(", ")})`,
    );
    try {
      return this.db.transaction(() => {
        if (insertWindow.run(start, periodSeconds, intervalSeconds, aggregatedAt).changes === 0) return false;
        for (const gpu of gpus) insertGpu.run(start, gpu.gpuId, gpu.sampleCount, gpu.coverage, ...(gpu.values as Array<number | string | null>));
        return true;
      }).immediate();
    } catch (error) {
      throw asStoreError(error, this.file);
    }
  }

  /** The GPU summaries of windows starting in [from, to), ordered by window then GPU, streamed. */
  *between(from: number, to: number): Generator<StoredWindowGpu> {
    const rows = this.db
      .query(
        `SELECT a.window_start, w.period_seconds, a.gpu_id, a.sample_count, a.coverage, ${this.readColumns}
         FROM aggregates a JOIN windows w ON w.start = a.window_start
         WHERE a.window_start >= ? AND a.window_start < ? ORDER BY a.window_start, a.gpu_id`,
      )
      .values(from, to) as Array<Array<number | string | null>>;
    for (const row of rows) {
      yield {
        windowStart: row[0] as number,
        periodSeconds: row[1] as number,
        gpuId: row[2] as number,
        sampleCount: row[3] as number,
        coverage: row[4] as number,
        values: Object.fromEntries(AGGREGATE_COLUMNS.map((column, i) => [column, row[5 + i]!])),
      };
    }
  }

  /** Deletes up to `limit` windows older than `before`, with their summaries and send attempts. */
  prune(before: number, limit: number): number {
    return this.db
      .query(`DELETE FROM windows WHERE start IN (SELECT start FROM windows WHERE start < ? ORDER BY start LIMIT ?)`)
      .run(before, limit).changes;
  }
}
