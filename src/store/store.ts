// Reads and writes of the agent's data. Each collection tick is one transaction.

import type { Database, Statement } from "bun:sqlite";
import { seriesFromSamples, type GpuAggregate, type GpuSeries, type RawSample } from "../aggregate/windows.ts";
import { fanSummary } from "../collect/record.ts";
import type { GpuSample } from "../collect/sample.ts";
import { asStoreError, openDatabase, type OpenStoreOptions } from "./database.ts";
import {
  BLOCK_COLUMNS,
  BLOCK_SECONDS,
  blockColumns,
  blockStart,
  decodeBlockColumns,
  encodeBlock,
  mergeColumns,
  mergeOrdered,
  rowsOfColumns,
  SAMPLE_COLUMNS,
  type SampleColumns,
  type SampleRow,
} from "./sampleBlocks.ts";
import { AGGREGATED_METRICS, type AggregatedMetric } from "./schema.ts";

/** A raw sample joined with its GPU's identity, as queries return it. */
export type StoredSampleRow = SampleRow & GpuIdentity;

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


const AGGREGATE_COLUMNS = AGGREGATED_METRICS.flatMap((m) => [m, `${m}_min`, `${m}_max`]);

export interface GpuIdentity {
  uid: string;
  pci_bus_id: string | null;
  name: string | null;
  serial: string | null;
  memory_total: number | null;
  memory_reserved: number | null;
  ecc_enabled: number | null;
}

const ENERGY = SAMPLE_COLUMNS.indexOf("energy_mj");
/** The block columns aggregation decodes (by index in SAMPLE_COLUMNS); used memory is among them, as free memory needs it. */
const WINDOW_BLOCK_COLUMNS = [ENERGY, ...AGGREGATED_METRICS.map((metric) => SAMPLE_COLUMNS.indexOf(metric))];

/** Rows of [gpu_id, ts, energy_mj, ...AGGREGATED_METRICS], ordered by time, as one series per GPU. */
function seriesFromColumns(rows: ReadonlyArray<ReadonlyArray<number | null>>): GpuSeries[] {
  const byGpu = new Map<number, { ts: number[]; energy: Array<number | null>; metrics: Array<Array<number | null>> }>();
  for (const row of rows) {
    const gpuId = row[0] as number;
    let series = byGpu.get(gpuId);
    if (!series) byGpu.set(gpuId, (series = { ts: [], energy: [], metrics: AGGREGATED_METRICS.map(() => []) }));
    series.ts.push(row[1] as number);
    series.energy.push(row[2]!);
    for (let m = 0; m < AGGREGATED_METRICS.length; m++) series.metrics[m]!.push(row[3 + m]!);
  }
  return [...byGpu].map(([gpuId, series]) => ({
    gpuId,
    ts: series.ts,
    energy: series.energy,
    metrics: Object.fromEntries(AGGREGATED_METRICS.map((metric, m) => [metric, series.metrics[m]!])) as unknown as GpuSeries["metrics"],
  }));
}

/** One GPU's series from several parts, each ordered by time; on a shared time the earlier part's sample is kept. */
function mergeSeries(parts: readonly GpuSeries[]): GpuSeries {
  if (parts.length === 1) return parts[0]!;
  // The usual case: consecutive blocks (and the open span's rows) that do not overlap: joined end to end.
  const ordered = [...parts].sort((a, b) => a.ts[0]! - b.ts[0]!);
  if (ordered.every((part, i) => i === 0 || part.ts[0]! > ordered[i - 1]!.ts.at(-1)!)) {
    const metrics = {} as Record<AggregatedMetric, Array<number | null>>;
    for (const metric of AGGREGATED_METRICS) metrics[metric] = ordered.flatMap((part) => part.metrics[metric]);
    return { gpuId: parts[0]!.gpuId, ts: ordered.flatMap((part) => part.ts), energy: ordered.flatMap((part) => part.energy), metrics };
  }
  const rows = new Map<number, RawSample>();
  for (const part of parts) {
    for (let i = 0; i < part.ts.length; i++) {
      if (rows.has(part.ts[i]!)) continue;
      const row = { ts: part.ts[i]!, gpu_id: part.gpuId, energy_mj: part.energy[i]! } as RawSample;
      for (const metric of AGGREGATED_METRICS) row[metric] = part.metrics[metric][i]!;
      rows.set(row.ts, row);
    }
  }
  return seriesFromSamples([...rows.values()], parts[0]!.gpuId)[0]!;
}

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
   * Returns the rows as stored (watts in mW, the fans' mean), for the running window.
   */
  writeTick(ts: number, gpus: readonly GpuSample[]): SampleRow[] {
    try {
      return this.db.transaction(() => {
        const rows: SampleRow[] = [];
        for (const gpu of gpus) {
          const row: SampleRow = {
            ts,
            gpu_id: this.upsertGpu(gpu, ts),
            temperature: gpu.temperatureCelsius,
            memory_used: gpu.memoryUsedBytes,
            memory_free: gpu.memoryFreeBytes,
            gpu_utilization: gpu.gpuUtilizationPercent,
            memory_utilization: gpu.memoryUtilizationPercent,
            power_mw: milliwatts(gpu.powerUsageWatts),
            power_limit_mw: milliwatts(gpu.powerLimitWatts),
            fan_speed: fanSummary(gpu.fanSpeedsPercent),
            graphics_clock: gpu.graphicsClockMhz,
            sm_clock: gpu.smClockMhz,
            memory_clock: gpu.memoryClockMhz,
            energy_mj: gpu.energyMillijoules,
            performance_state: gpu.performanceState,
            clock_event_reasons: gpu.clockEventReasons,
            ecc_errors_corrected: gpu.eccErrorsCorrected,
            ecc_errors_uncorrected: gpu.eccErrorsUncorrected,
            encoder_utilization: gpu.encoderUtilizationPercent,
            decoder_utilization: gpu.decoderUtilizationPercent,
            pcie_link_generation: gpu.pcieLinkGeneration,
            pcie_link_width: gpu.pcieLinkWidth,
          };
          this.insertSample.run(row.ts, row.gpu_id, ...SAMPLE_COLUMNS.map((column) => row[column]));
          rows.push(row);
        }
        // A GPU reported twice in one tick is stored once (INSERT OR REPLACE: the last); say so to the running window too.
        return rows.filter((row, i) => !rows.some((later, j) => j > i && later.gpu_id === row.gpu_id));
      }).immediate();
    } catch (error) {
      this.gpuIds.clear(); // a rolled-back insert may have left a cached id that does not exist
      throw asStoreError(error, this.file);
    }
  }

  /** Whether any sample, row or block, has ts in [from, to). */
  hasSamplesBetween(from: number, to: number): boolean {
    if (this.db.query("SELECT 1 FROM samples WHERE ts >= ? AND ts < ? LIMIT 1").get(from, to) !== null) return true;
    return (
      this.db
        .query("SELECT 1 FROM sample_blocks WHERE start >= ? AND start < ? AND last_ts >= ? AND first_ts < ? LIMIT 1")
        .get(blockStart(from), to, from, to) !== null
    );
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

  // ---- raw samples ---------------------------------------------------------
  // The open block's samples are rows of `samples`; closed blocks are compacted into
  // `sample_blocks` (sampleBlocks.ts). Every read below sees both as one.

  firstSampleTs(): number | null {
    // Blocks through their (start, gpu_id) index: the oldest span's blocks only, never a scan of every block.
    const row = this.db
      .query(
        `SELECT min(ts) AS ts FROM (SELECT min(ts) AS ts FROM samples
           UNION ALL SELECT min(first_ts) FROM sample_blocks WHERE start = (SELECT min(start) FROM sample_blocks))`,
      )
      .get() as { ts: number | null };
    return row.ts;
  }

  latestSampleTs(): number | null {
    const row = this.db
      .query(
        `SELECT max(ts) AS ts FROM (SELECT max(ts) AS ts FROM samples
           UNION ALL SELECT max(last_ts) FROM sample_blocks WHERE start = (SELECT max(start) FROM sample_blocks))`,
      )
      .get() as { ts: number | null };
    return row.ts;
  }

  /**
   * Every sample with ts in [from, to), ordered by time then GPU, a block span
   * (10 minutes) at a time: memory stays that of one span whatever the range.
   */
  *sampleRows(from: number, to: number): Generator<SampleRow[]> {
    for (const span of this.sampleColumns(from, to)) yield rowsOfColumns(span);
  }

  /**
   * Every sample with ts in [from, to) as columns, a block span (10 minutes) at a
   * time: one SampleColumns per GPU holding samples in the span, ordered by GPU.
   * What a long export reads: no object per sample.
   */
  *sampleColumns(from: number, to: number): Generator<SampleColumns[]> {
    const first = this.firstSampleTs();
    const latest = this.latestSampleTs();
    if (first === null || latest === null) return;
    const lo = Math.max(from, first);
    const hi = Math.min(to, latest + 1);
    const rawRows = this.db.query(
      `SELECT gpu_id, ts, ${SAMPLE_COLUMNS.join(", ")} FROM samples WHERE ts >= ? AND ts < ? ORDER BY gpu_id, ts`,
    );
    const blocks = this.db.query(
      `SELECT gpu_id, sample_count, ts, ${BLOCK_COLUMNS.join(", ")} FROM sample_blocks WHERE start = ? ORDER BY gpu_id`,
    );
    for (let span = blockStart(lo); span < hi; span += BLOCK_SECONDS) {
      const parts = new Map<number, SampleColumns[]>(); // raw rows first: a sample written after its block was compacted wins
      const add = (part: SampleColumns) => {
        const list = parts.get(part.gpuId);
        if (list) list.push(part);
        else parts.set(part.gpuId, [part]);
      };
      let raw: SampleColumns | null = null;
      for (const row of rawRows.values(Math.max(lo, span), Math.min(hi, span + BLOCK_SECONDS)) as Array<Array<number | null>>) {
        if (raw === null || raw.gpuId !== row[0]) add((raw = { gpuId: row[0] as number, ts: [], values: SAMPLE_COLUMNS.map(() => []) }));
        raw.ts.push(row[1] as number);
        for (let c = 0; c < SAMPLE_COLUMNS.length; c++) raw.values[c]!.push(row[2 + c]!);
      }
      for (const block of blocks.values(span) as unknown[][]) {
        add(blockColumns(block[0] as number, span, block[1] as number, block[2] as Uint8Array, block.slice(3) as Uint8Array[], lo, hi));
      }
      const merged = [...parts.keys()]
        .sort((a, b) => a - b)
        .map((gpuId) => mergeColumns(parts.get(gpuId)!))
        .filter((columns) => columns.ts.length > 0);
      if (merged.length > 0) yield merged;
    }
  }

  /** Raw samples with ts in [from, to), joined with their GPU, ordered by time then GPU, streamed. */
  *samplesBetween(from: number, to: number): Generator<StoredSampleRow> {
    let identities = this.gpuIdentities();
    for (const rows of this.sampleRows(from, to)) {
      for (const row of rows) {
        // A GPU the running agent added after the read began: look the identities up again.
        if (!identities.has(row.gpu_id)) identities = this.gpuIdentities();
        const gpu = identities.get(row.gpu_id)!;
        yield {
          ...row,
          uid: gpu.uid,
          pci_bus_id: gpu.pci_bus_id,
          name: gpu.name,
          serial: gpu.serial,
          memory_total: gpu.memory_total,
          memory_reserved: gpu.memory_reserved,
          ecc_enabled: gpu.ecc_enabled,
        };
      }
    }
  }

  /** Every GPU ever stored, by id. */
  gpuIdentities(): Map<number, GpuIdentity> {
    const gpus = this.db.query(`SELECT id, uid, pci_bus_id, name, serial, memory_total, memory_reserved, ecc_enabled FROM gpus`).all() as Array<
      { id: number } & GpuIdentity
    >;
    return new Map(gpus.map(({ id, ...gpu }) => [id, gpu]));
  }

  /** A window's samples, one series per GPU ordered by GPU: what aggregation reads, as columns. */
  windowSeries(from: number, to: number): GpuSeries[] {
    const parts = new Map<number, GpuSeries[]>(); // raw rows first: a sample written after its block was compacted wins
    const add = (series: GpuSeries) => {
      const list = parts.get(series.gpuId);
      if (list) list.push(series);
      else parts.set(series.gpuId, [series]);
    };
    const raw = this.db
      .query(`SELECT gpu_id, ts, energy_mj, ${AGGREGATED_METRICS.join(", ")} FROM samples WHERE ts >= ? AND ts < ? ORDER BY ts, gpu_id`)
      .values(from, to) as Array<Array<number | null>>;
    if (raw.length > 0) for (const series of seriesFromColumns(raw)) add(series);
    const blocks = this.db
      .query(
        `SELECT gpu_id, start, sample_count, ts, ${WINDOW_BLOCK_COLUMNS.map((index) => BLOCK_COLUMNS[index]).join(", ")}
         FROM sample_blocks WHERE start >= ? AND start < ? ORDER BY start, gpu_id`,
      )
      .values(blockStart(from), to) as unknown[][];
    for (const block of blocks) {
      const columns = new Map(WINDOW_BLOCK_COLUMNS.map((index, at) => [index, block[4 + at] as Uint8Array]));
      const decoded = decodeBlockColumns(block[1] as number, block[2] as number, block[3] as Uint8Array, columns, to);
      // Decoded up to `to`; a window starting inside the block also skips its first samples.
      let lo = 0;
      while (lo < decoded.ts.length && decoded.ts[lo]! < from) lo++;
      if (lo === decoded.ts.length) continue;
      const cut = <T>(values: T[]) => (lo === 0 ? values : values.slice(lo));
      const metrics = {} as Record<AggregatedMetric, Array<number | null>>;
      for (const metric of AGGREGATED_METRICS) metrics[metric] = cut(decoded.values.get(SAMPLE_COLUMNS.indexOf(metric))!);
      add({ gpuId: block[0] as number, ts: cut(decoded.ts), energy: cut(decoded.values.get(ENERGY)!), metrics });
    }
    return [...parts.keys()].sort((a, b) => a - b).map((gpuId) => mergeSeries(parts.get(gpuId)!));
  }

  /** Each GPU's last sample in [ts - lookback, ts): the baseline for a window's energy. */
  lastSamplesBefore(ts: number, lookbackSeconds: number): Map<number, { ts: number; energy_mj: number | null }> {
    const last = new Map<number, { ts: number; energy_mj: number | null }>();
    // Blocks first, raw rows over them: only the times and the energy column are decoded.
    const blocks = this.db
      .query(`SELECT gpu_id, start, sample_count, ts, energy_mj FROM sample_blocks WHERE start >= ? AND start < ? AND last_ts >= ? ORDER BY start`)
      .values(blockStart(ts - lookbackSeconds), ts, ts - lookbackSeconds) as unknown[][];
    for (const block of blocks) {
      const decoded = decodeBlockColumns(block[1] as number, block[2] as number, block[3] as Uint8Array, new Map([[ENERGY, block[4] as Uint8Array]]), ts);
      const energy = decoded.values.get(ENERGY)!;
      // Decoded up to `ts`: the block's last sample before it is its last decoded one.
      const at = decoded.ts.length - 1;
      const time = decoded.ts[at];
      if (time !== undefined && time >= ts - lookbackSeconds && time >= (last.get(block[0] as number)?.ts ?? -Infinity)) {
        last.set(block[0] as number, { ts: time, energy_mj: energy[at]! });
      }
    }
    // SQLite takes the other columns from the row holding max(ts).
    const rows = this.db
      .query(`SELECT gpu_id, max(ts) AS ts, energy_mj FROM samples WHERE ts < ? AND ts >= ? GROUP BY gpu_id`)
      .all(ts, ts - lookbackSeconds) as Array<{ gpu_id: number; ts: number; energy_mj: number | null }>;
    for (const row of rows) {
      if (row.ts >= (last.get(row.gpu_id)?.ts ?? -Infinity)) last.set(row.gpu_id, { ts: row.ts, energy_mj: row.energy_mj });
    }
    return last;
  }

  /**
   * Compacts the raw samples of block spans ending at or before `until` into
   * blocks, oldest first: at most `maxBlocks` spans, and no new one once `budgetMs`
   * is spent. Each span is one transaction: its rows move to blocks whole or not
   * at all. Returns the spans done.
   */
  compactBlocks(until: number, limits: { maxBlocks?: number; budgetMs?: number } = {}): number {
    const started = performance.now();
    let done = 0;
    const oldest = this.db.query("SELECT min(ts) AS ts FROM samples");
    while (done < (limits.maxBlocks ?? Infinity) && performance.now() - started < (limits.budgetMs ?? Infinity)) {
      const first = (oldest.get() as { ts: number | null }).ts;
      if (first === null) break;
      const span = blockStart(first);
      if (span + BLOCK_SECONDS > until) break;
      this.compactSpan(span);
      done++;
    }
    return done;
  }

  private compactSpan(span: number): void {
    const readRaw = this.db.query(`SELECT ts, gpu_id, ${SAMPLE_COLUMNS.join(", ")} FROM samples WHERE ts >= ? AND ts < ? ORDER BY ts`);
    const readBlock = this.db.query(
      `SELECT gpu_id, sample_count, ts, ${BLOCK_COLUMNS.join(", ")} FROM sample_blocks WHERE start = ? AND gpu_id = ?`,
    );
    const writeBlock = this.db.query(
      `INSERT OR REPLACE INTO sample_blocks (start, gpu_id, sample_count, first_ts, last_ts, ts, ${BLOCK_COLUMNS.join(", ")})
       VALUES (${new Array(6 + BLOCK_COLUMNS.length).fill("?").join(", ")})`,
    );
    const deleteRaw = this.db.query("DELETE FROM samples WHERE ts >= ? AND ts < ?");
    try {
      this.db.transaction(() => {
        const byGpu = new Map<number, SampleRow[]>();
        for (const row of readRaw.all(span, span + BLOCK_SECONDS) as SampleRow[]) {
          let rows = byGpu.get(row.gpu_id);
          if (!rows) byGpu.set(row.gpu_id, (rows = []));
          rows.push(row);
        }
        for (const [gpuId, raw] of byGpu) {
          // A span compacted before (the clock was set back into it) keeps its samples; the newer raw rows win.
          const existing = readBlock.values(span, gpuId)[0] as unknown[] | undefined;
          const rows = existing
            ? mergeOrdered([raw, rowsOfColumns([blockColumns(gpuId, span, existing[1] as number, existing[2] as Uint8Array, existing.slice(3) as Uint8Array[])])])
            : raw;
          const block = encodeBlock(span, rows);
          writeBlock.run(span, gpuId, block.sampleCount, block.firstTs, block.lastTs, block.ts, ...block.columns);
        }
        deleteRaw.run(span, span + BLOCK_SECONDS);
      }).immediate();
    } catch (error) {
      throw asStoreError(error, this.file);
    }
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

  /**
   * Deletes up to `limit` blocks wholly older than `before` (a block straddling
   * it waits until it is all old). Returns the blocks and the samples they held.
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
