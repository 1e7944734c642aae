// Reads and writes of the agent's data. Each collection tick is one transaction.

import type { Database, Statement } from "bun:sqlite";
import type { GpuAggregate, RawSample } from "../aggregate/windows.ts";
import { fanSummary } from "../collect/record.ts";
import type { GpuSample } from "../collect/sample.ts";
import { asStoreError, openDatabase, type OpenStoreOptions } from "./database.ts";
import { AGGREGATED_METRICS } from "./schema.ts";

/** A raw sample joined with its GPU's identity, as queries return it. */
export interface StoredSampleRow extends RawSample {
  uid: string;
  pci_bus_id: string | null;
  name: string | null;
  serial: string | null;
  memory_total: number | null;
  memory_reserved: number | null;
  ecc_enabled: number | null;
  performance_state: number | null;
  clock_event_reasons: number | null;
  ecc_errors_corrected: number | null;
  ecc_errors_uncorrected: number | null;
  pcie_link_generation: number | null;
  pcie_link_width: number | null;
}

/** One GPU's aggregate of one window, joined with its identity. */
export interface StoredAggregateRow {
  window_start: number;
  period_seconds: number;
  gpu_id: number;
  uid: string;
  pci_bus_id: string | null;
  name: string | null;
  serial: string | null;
  memory_total: number | null;
  sample_count: number;
  coverage: number;
  energy_mj: number | null;
  [metric: string]: number | string | null;
}

const SAMPLE_COLUMNS = [
  "temperature",
  "memory_used",
  "memory_free",
  "gpu_utilization",
  "memory_utilization",
  "power_mw",
  "power_limit_mw",
  "fan_speed",
  "graphics_clock",
  "sm_clock",
  "memory_clock",
  "energy_mj",
  "performance_state",
  "clock_event_reasons",
  "ecc_errors_corrected",
  "ecc_errors_uncorrected",
  "encoder_utilization",
  "decoder_utilization",
  "pcie_link_generation",
  "pcie_link_width",
] as const;

const AGGREGATE_COLUMNS = AGGREGATED_METRICS.flatMap((m) => [m, `${m}_min`, `${m}_max`]);

const IDENTITY = "g.uid, g.pci_bus_id, g.name, g.serial, g.memory_total";

export class Store {
  private readonly gpuIds = new Map<string, number>();
  private readonly insertSample: Statement;
  private readonly findGpu: Statement;
  private readonly addGpu: Statement;
  private readonly touchGpu: Statement;

  constructor(
    readonly db: Database,
    readonly file: string,
  ) {
    this.insertSample = db.prepare(
      `INSERT OR REPLACE INTO samples (ts, gpu_id, ${SAMPLE_COLUMNS.join(", ")})
       VALUES (?, ?, ${SAMPLE_COLUMNS.map(() => "?").join(", ")})`,
    );
    this.findGpu = db.prepare("SELECT id FROM gpus WHERE uid = ?");
    this.addGpu = db.prepare(
      `INSERT INTO gpus (uid, pci_bus_id, name, serial, memory_total, memory_reserved, ecc_enabled, first_seen, last_seen)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
    );
    this.touchGpu = db.prepare(
      `UPDATE gpus SET pci_bus_id = ?, name = ?, serial = ?, memory_total = coalesce(?, memory_total),
         memory_reserved = coalesce(?, memory_reserved), ecc_enabled = coalesce(?, ecc_enabled), last_seen = ?
       WHERE id = ?`,
    );
  }

  static open(file: string, options: OpenStoreOptions = {}): Store {
    return new Store(openDatabase(file, options), file);
  }

  close(): void {
    this.db.close();
  }

  /**
   * Stores one tick's readings in one transaction: all of it or nothing. IMMEDIATE
   * takes the write lock first, so a busy database is waited for (busy_timeout);
   * a deferred transaction upgrading to write in WAL mode would fail at once.
   */
  writeTick(ts: number, gpus: readonly GpuSample[]): void {
    try {
      this.db.transaction(() => {
        for (const gpu of gpus) {
          const gpuId = this.upsertGpu(gpu, ts);
          this.insertSample.run(
            ts,
            gpuId,
            gpu.temperatureCelsius,
            gpu.memoryUsedBytes,
            gpu.memoryFreeBytes,
            gpu.gpuUtilizationPercent,
            gpu.memoryUtilizationPercent,
            milliwatts(gpu.powerUsageWatts),
            milliwatts(gpu.powerLimitWatts),
            fanSummary(gpu.fanSpeedsPercent),
            gpu.graphicsClockMhz,
            gpu.smClockMhz,
            gpu.memoryClockMhz,
            gpu.energyMillijoules,
            gpu.performanceState,
            gpu.clockEventReasons,
            gpu.eccErrorsCorrected,
            gpu.eccErrorsUncorrected,
            gpu.encoderUtilizationPercent,
            gpu.decoderUtilizationPercent,
            gpu.pcieLinkGeneration,
            gpu.pcieLinkWidth,
          );
        }
      }).immediate();
    } catch (error) {
      this.gpuIds.clear(); // a rolled-back insert may have left a cached id that does not exist
      throw asStoreError(error, this.file);
    }
  }

  private upsertGpu(gpu: GpuSample, ts: number): number {
    const ecc = gpu.eccEnabled === null ? null : gpu.eccEnabled ? 1 : 0;
    let id = this.gpuIds.get(gpu.uuid) ?? (this.findGpu.get(gpu.uuid) as { id: number } | null)?.id;
    if (id === undefined) {
      id = (
        this.addGpu.get(gpu.uuid, gpu.pciBusId, gpu.name, gpu.serial, gpu.memoryTotalBytes, gpu.memoryReservedBytes, ecc, ts, ts) as {
          id: number;
        }
      ).id;
    } else {
      this.touchGpu.run(gpu.pciBusId, gpu.name, gpu.serial, gpu.memoryTotalBytes, gpu.memoryReservedBytes, ecc, ts, id);
    }
    this.gpuIds.set(gpu.uuid, id);
    return id;
  }

  // ---- raw samples -----------------------------------------------------------

  firstSampleTs(): number | null {
    return (this.db.query("SELECT min(ts) AS ts FROM samples").get() as { ts: number | null }).ts;
  }

  latestSampleTs(): number | null {
    return (this.db.query("SELECT max(ts) AS ts FROM samples").get() as { ts: number | null }).ts;
  }

  /** Raw samples with ts in [from, to), ordered by time then GPU, streamed. */
  *samplesBetween(from: number, to: number): Generator<StoredSampleRow> {
    const statement = this.db.query(
      `SELECT s.*, ${IDENTITY}, g.memory_reserved, g.ecc_enabled
       FROM samples s JOIN gpus g ON g.id = s.gpu_id
       WHERE s.ts >= ? AND s.ts < ? ORDER BY s.ts, s.gpu_id`,
    );
    yield* statement.iterate(from, to) as IterableIterator<StoredSampleRow>;
  }

  /** A window's samples with only what aggregation reads: no join, so an hour of 8 GPUs reads in milliseconds. */
  windowSamples(from: number, to: number): RawSample[] {
    return this.db
      .query(`SELECT ts, gpu_id, energy_mj, ${AGGREGATED_METRICS.join(", ")} FROM samples WHERE ts >= ? AND ts < ?`)
      .all(from, to) as RawSample[];
  }

  /** Each GPU's last sample in [ts - lookback, ts): the baseline for a window's energy. */
  lastSamplesBefore(ts: number, lookbackSeconds: number): Map<number, { ts: number; energy_mj: number | null }> {
    // SQLite takes the other columns from the row holding max(ts).
    const rows = this.db
      .query(`SELECT gpu_id, max(ts) AS ts, energy_mj FROM samples WHERE ts < ? AND ts >= ? GROUP BY gpu_id`)
      .all(ts, ts - lookbackSeconds) as Array<{ gpu_id: number; ts: number; energy_mj: number | null }>;
    return new Map(rows.map((row) => [row.gpu_id, { ts: row.ts, energy_mj: row.energy_mj }]));
  }

  /**
   * GPUs a window should account for even without samples: those seen in the day
   * before it. A GPU that was lost gets coverage 0 rather than vanishing; one
   * taken out of the host drops off after a day.
   */
  gpusSeenBefore(ts: number, withinSeconds: number): number[] {
    return (
      this.db.query("SELECT id FROM gpus WHERE first_seen < ? AND last_seen >= ? ORDER BY id").all(ts, ts - withinSeconds) as Array<{
        id: number;
      }>
    ).map((row) => row.id);
  }

  /** The last stored window's end, or null. */
  lastWindowEnd(): number | null {
    const row = this.db.query("SELECT start + period_seconds AS end FROM windows ORDER BY start DESC LIMIT 1").get() as { end: number } | null;
    return row?.end ?? null;
  }

  // ---- windows and aggregates ----------------------------------------------------

  hasWindow(start: number): boolean {
    return this.db.query("SELECT 1 FROM windows WHERE start = ?").get(start) !== null;
  }

  /** Stores a closed window's aggregates once; a window already stored is never changed. */
  writeWindow(start: number, periodSeconds: number, intervalSeconds: number, aggregatedAt: number, gpus: readonly GpuAggregate[]): boolean {
    const insertWindow = this.db.prepare(
      `INSERT OR IGNORE INTO windows (start, period_seconds, interval_seconds, aggregated_at) VALUES (?, ?, ?, ?)`,
    );
    const insertAggregate = this.db.prepare(
      `INSERT INTO aggregates (window_start, gpu_id, sample_count, coverage, energy_mj, ${AGGREGATE_COLUMNS.join(", ")})
       VALUES (?, ?, ?, ?, ?, ${AGGREGATE_COLUMNS.map(() => "?").join(", ")})`,
    );
    try {
      return this.db.transaction(() => {
        if (insertWindow.run(start, periodSeconds, intervalSeconds, aggregatedAt).changes === 0) return false;
        for (const gpu of gpus) {
          const values = AGGREGATED_METRICS.flatMap((metric) => {
            const summary = gpu.metrics[metric];
            return summary ? [summary.avg, summary.min, summary.max] : [null, null, null];
          });
          insertAggregate.run(start, gpu.gpuId, gpu.sampleCount, gpu.coverage, gpu.energyMillijoules, ...values);
        }
        return true;
      }).immediate();
    } catch (error) {
      throw asStoreError(error, this.file);
    }
  }

  /** Aggregates of windows starting in [from, to), ordered by window then GPU, streamed. */
  *aggregatesBetween(from: number, to: number): Generator<StoredAggregateRow> {
    const statement = this.db.query(
      `SELECT a.*, w.period_seconds, ${IDENTITY}
       FROM aggregates a JOIN windows w ON w.start = a.window_start JOIN gpus g ON g.id = a.gpu_id
       WHERE a.window_start >= ? AND a.window_start < ? ORDER BY a.window_start, a.gpu_id`,
    );
    yield* statement.iterate(from, to) as IterableIterator<StoredAggregateRow>;
  }

  // ---- events ---------------------------------------------------------------

  recordEvent(ts: number, kind: string, gpuIndex: number | null, detail: string): void {
    try {
      this.db.query("INSERT INTO events (ts, kind, gpu_index, detail) VALUES (?, ?, ?, ?)").run(ts, kind, gpuIndex, detail);
    } catch (error) {
      throw asStoreError(error, this.file);
    }
  }

  recentEvents(limit: number): Array<{ ts: number; kind: string; gpu_index: number | null; detail: string }> {
    return this.db.query("SELECT ts, kind, gpu_index, detail FROM events ORDER BY id DESC LIMIT ?").all(limit) as Array<{
      ts: number;
      kind: string;
      gpu_index: number | null;
      detail: string;
    }>;
  }

  // ---- retention -------------------------------------------------------------

  /**
   * Deletes the oldest raw samples older than `before`: whole ticks up to the one
   * holding the `limit`-th row, as one range of the primary key. Returns how many went
   * (at least `limit` unless fewer were left).
   */
  pruneSamples(before: number, limit: number): number {
    return this.db
      .query(
        `DELETE FROM samples WHERE ts < ?1
           AND ts <= coalesce((SELECT ts FROM samples WHERE ts < ?1 ORDER BY ts LIMIT 1 OFFSET ?2), ?1)`,
      )
      .run(before, Math.max(0, limit - 1)).changes;
  }

  /** Deletes up to `limit` events older than `before`. */
  pruneEvents(before: number, limit: number): number {
    return this.db.query("DELETE FROM events WHERE id IN (SELECT id FROM events WHERE ts < ? ORDER BY id LIMIT ?)").run(before, limit).changes;
  }

  /** Deletes up to `limit` windows older than `before`, with their aggregates and send attempts. */
  pruneWindows(before: number, limit: number): number {
    return this.db
      .query(`DELETE FROM windows WHERE start IN (SELECT start FROM windows WHERE start < ? ORDER BY start LIMIT ?)`)
      .run(before, limit).changes;
  }
}

function milliwatts(watts: number | null): number | null {
  return watts === null ? null : Math.round(watts * 1000);
}
