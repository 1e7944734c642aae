// Who used each GPU, per window: a process's identity once, and per window per
// GPU one row per process and one per user. A tick stores one row per GPU (its
// processes packed in a blob) inside the tick's own transaction, so a kill -9
// loses at most the tick in flight; when the window closes its ticks are folded
// into the window's rows and deleted. An upsert per process per tick cost ~1 µs
// each, twice the whole basic tick for 400 processes; a row per GPU costs ~5 µs.

import type { Database, Statement } from "bun:sqlite";
import type { ProcessIdentity, TickProcess, TickProcesses } from "../aggregate/attribution.ts";
import { asStoreError, tableColumns } from "./database.ts";

/** Per process in a tick's blob: process id, user id, memory bytes, SM share (NaN: unknown). */
const TICK_ENTRY_VALUES = 4;

interface FoldedRow {
  seconds: number;
  sm: number | null;
  memory: number | null;
}

function addKnown(sum: number | null, value: number | null): number | null {
  return value === null ? sum : (sum ?? 0) + value;
}

function maxKnown(peak: number | null, value: number | null): number | null {
  return value === null ? peak : peak === null ? value : Math.max(peak, value);
}

/** user_id of a process whose owner is unknown. */
const UNKNOWN_USER = 0;

/** One process's use of one GPU over one window, as read back. */
export interface ProcessWindow extends ProcessIdentity {
  windowStart: number;
  gpuId: number;
  gpuSeconds: number;
  smSeconds: number | null;
  memoryMax: number | null;
  firstSeen: number;
  lastSeen: number;
}

/** One user's use of one GPU over one window: seconds with at least one process there. */
export interface UserWindow {
  windowStart: number;
  gpuId: number;
  user: string | null;
  gpuSeconds: number;
  smSeconds: number | null;
  memoryMax: number | null;
}

/** One window's record of who used each GPU, by GPU id. */
export interface WindowAttribution {
  lists: Map<number, ProcessListWindow>;
  processes: Map<number, ProcessWindow[]>;
  users: Map<number, UserWindow[]>;
}

/** Who a usage row is about. */
export type Owner = "user" | "process" | "container" | "pod";

/** One owner's use summed over windows, with its share of each window's GPU energy. */
export interface OwnerUsage {
  /** The user's name, the process's id, the container id or the pod UID; null when unknown (no container...). */
  key: string | number | null;
  /** For a process: its pid, name, user and start. */
  pid: number | null;
  name: string | null;
  user: string | null;
  startedAt: number | null;
  gpuSeconds: number;
  smSeconds: number | null;
  /** Seconds of the rows whose SM share is known: what smSeconds is a share of. */
  smKnownSeconds: number;
  memoryMax: number | null;
  windows: number;
  /** mJ apportioned from each window's GPU energy; null when no window had an energy figure. */
  energyMj: number | null;
  /** Window-GPUs whose energy was split by SM share, and by time present. */
  energyBySm: number;
  energyByTime: number;
}

/** How a GPU's process list went over one window. */
export interface ProcessListWindow {
  windowStart: number;
  gpuId: number;
  listedSeconds: number;
  refusedSeconds: number;
  refusedCode: string | null;
}

// Sums that stay NULL while nothing is known, and a maximum that ignores NULL.
const ADD_SM = "sm_seconds = CASE WHEN excluded.sm_seconds IS NULL THEN sm_seconds ELSE coalesce(sm_seconds, 0) + excluded.sm_seconds END";
const MAX_MEMORY = "memory_max = max(coalesce(memory_max, excluded.memory_max), coalesce(excluded.memory_max, memory_max))";

export class ProcessStore {
  private statements: {
    user: Statement;
    userId: Statement;
    process: Statement;
    processId: Statement;
    tick: Statement;
    processWindow: Statement;
    userWindow: Statement;
    list: Statement;
  } | null = null;
  /** Ids known to be stored, by pid then start key, boot and mode; forgotten when a transaction rolls back. */
  private readonly processIds = new Map<number, Map<string, number>>();
  private readonly userIds = new Map<string, number>();
  /** A database of an older schema opened read-only has none of these tables: it reads as none recorded. */
  private tablesPresent: boolean | null = null;

  constructor(
    private readonly db: Database,
    private readonly file: string,
  ) {}

  /** The salt of hashed values (collection.processes "hashed"): made once per database and kept in it. */
  salt(): string {
    const read = () => (this.db.query("SELECT value FROM meta WHERE key = 'process_salt'").get() as { value: string } | null)?.value ?? null;
    try {
      const existing = read();
      if (existing !== null) return existing;
      const salt = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex");
      this.db.transaction(() => this.db.query("INSERT OR IGNORE INTO meta (key, value) VALUES ('process_salt', ?)").run(salt)).immediate();
      return read()!;
    } catch (error) {
      throw asStoreError(error, this.file);
    }
  }

  /** Keeps one GPU's tick until its window closes (fold). Runs inside the caller's transaction. */
  recordTick(ts: number, gpuId: number, tick: TickProcesses): void {
    const s = (this.statements ??= this.prepare());
    let entries: Uint8Array | null = null;
    if (tick.processes) {
      const packed = new Float64Array(tick.processes.length * TICK_ENTRY_VALUES);
      tick.processes.forEach((process, i) => {
        const userId = process.user === null ? UNKNOWN_USER : this.userId(process.user);
        const at = i * TICK_ENTRY_VALUES;
        packed[at] = this.processId(process, userId);
        packed[at + 1] = userId;
        packed[at + 2] = process.memoryBytes ?? NaN;
        packed[at + 3] = process.smShare ?? NaN;
      });
      entries = new Uint8Array(packed.buffer);
    }
    s.tick.run(ts, gpuId, tick.seconds, tick.refusedCode, entries);
  }

  /**
   * Folds the ticks in [from, to) into the rows of the window starting at `from`, and
   * deletes them, in one transaction. Per process: seconds present, SM seconds, peak
   * memory, first and last tick; per user: seconds with at least one of their processes,
   * SM seconds, peak of their processes' memory summed; per GPU: seconds listed and refused.
   */
  fold(from: number, to: number): void {
    if (!this.present()) return;
    const s = (this.statements ??= this.prepare());
    try {
      this.db.transaction(() => {
        const ticks = this.db
          .query("SELECT ts, gpu_id, seconds, refused_code, entries FROM process_ticks WHERE ts >= ? AND ts < ? ORDER BY gpu_id, ts")
          .values(from, to) as Array<[number, number, number, string | null, Uint8Array | null]>;
        if (ticks.length === 0) return;
        const lists = new Map<number, { listed: number; refused: number; occupied: number; code: string | null }>();
        // Keyed by GPU id × 2^32 + process or user id: numbers, not strings, for the hour's thousands of entries.
        const processes = new Map<number, FoldedRow & { gpuId: number; processId: number; first: number; last: number }>();
        const users = new Map<number, FoldedRow & { gpuId: number; userId: number }>();
        for (const [ts, gpuId, seconds, code, entries] of ticks) {
          let list = lists.get(gpuId);
          if (!list) lists.set(gpuId, (list = { listed: 0, refused: 0, occupied: 0, code: null }));
          if (entries === null) {
            list.refused += seconds;
            list.code = code ?? list.code;
            continue;
          }
          list.listed += seconds;
          if (entries.byteLength > 0) list.occupied += seconds;
          const values = new Float64Array(entries.buffer.slice(entries.byteOffset, entries.byteOffset + entries.byteLength));
          const tickUsers = new Map<number, { sm: number | null; memory: number | null }>();
          for (let at = 0; at < values.length; at += TICK_ENTRY_VALUES) {
            const processId = values[at]!;
            const userId = values[at + 1]!;
            const memory = Number.isNaN(values[at + 2]!) ? null : values[at + 2]!;
            const sm = Number.isNaN(values[at + 3]!) ? null : values[at + 3]! * seconds;
            const key = gpuId * 2 ** 32 + processId;
            const row = processes.get(key);
            if (!row) processes.set(key, { gpuId, processId, seconds, sm, memory, first: ts, last: ts });
            else {
              row.seconds += seconds;
              row.sm = addKnown(row.sm, sm);
              row.memory = maxKnown(row.memory, memory);
              row.last = ts;
            }
            const user = tickUsers.get(userId);
            if (!user) tickUsers.set(userId, { sm, memory });
            else {
              user.sm = addKnown(user.sm, sm);
              user.memory = addKnown(user.memory, memory);
            }
          }
          for (const [userId, tickUser] of tickUsers) {
            const key = gpuId * 2 ** 32 + userId;
            const row = users.get(key);
            if (!row) users.set(key, { gpuId, userId, seconds, sm: tickUser.sm, memory: tickUser.memory });
            else {
              row.seconds += seconds;
              row.sm = addKnown(row.sm, tickUser.sm);
              row.memory = maxKnown(row.memory, tickUser.memory);
            }
          }
        }
        for (const [gpuId, list] of lists) s.list.run(from, gpuId, list.listed, list.refused, list.code, list.occupied);
        for (const row of processes.values()) s.processWindow.run(from, row.gpuId, row.processId, row.seconds, row.sm, row.memory, row.first, row.last);
        for (const row of users.values()) s.userWindow.run(from, row.gpuId, row.userId, row.seconds, row.sm, row.memory);
        this.db.query("DELETE FROM process_ticks WHERE ts >= ? AND ts < ?").run(from, to);
      }).immediate();
    } catch (error) {
      throw asStoreError(error, this.file);
    }
  }

  /** The caller's transaction rolled back: ids cached since may not exist. */
  forgetIds(): void {
    this.processIds.clear();
    this.userIds.clear();
  }

  /** One window's processes, users and lists, by GPU. */
  window(start: number): WindowAttribution {
    const byGpu = <T extends { gpuId: number }>(rows: T[]) => {
      const map = new Map<number, T[]>();
      for (const row of rows) {
        const list = map.get(row.gpuId);
        if (list) list.push(row);
        else map.set(row.gpuId, [row]);
      }
      return map;
    };
    return {
      lists: new Map(this.listsBetween(start, start + 1).map((list) => [list.gpuId, list])),
      processes: byGpu(this.processesBetween(start, start + 1)),
      users: byGpu(this.usersBetween(start, start + 1)),
    };
  }

  private present(): boolean {
    return (this.tablesPresent ??= tableColumns(this.db, "process_lists").size > 0);
  }

  /** Every process row of windows starting in [from, to), by window, GPU, then first seen. */
  processesBetween(from: number, to: number, gpuId?: number): ProcessWindow[] {
    if (!this.present()) return [];
    const rows = this.db
      .query(
        `SELECT w.window_start, w.gpu_id, p.pid, p.started_at, p.name, p.uid, u.name, p.container_id, p.pod_uid, p.note,
                w.gpu_seconds, w.sm_seconds, w.memory_max, w.first_seen, w.last_seen
         FROM process_windows w JOIN processes p ON p.id = w.process_id LEFT JOIN process_users u ON u.id = p.user_id
         WHERE w.window_start >= ?1 AND w.window_start < ?2 AND (?3 IS NULL OR w.gpu_id = ?3)
         ORDER BY w.window_start, w.gpu_id, w.first_seen, p.pid`,
      )
      .values(from, to, gpuId ?? null) as Array<Array<number | string | null>>;
    return rows.map((r) => ({
      windowStart: r[0] as number,
      gpuId: r[1] as number,
      pid: r[2] as number,
      startedAt: r[3] as number | null,
      name: r[4] as string | null,
      uid: r[5] as number | null,
      user: r[6] as string | null,
      containerId: r[7] as string | null,
      podUid: r[8] as string | null,
      note: r[9] as string | null,
      gpuSeconds: r[10] as number,
      smSeconds: r[11] as number | null,
      memoryMax: r[12] as number | null,
      firstSeen: r[13] as number,
      lastSeen: r[14] as number,
    }));
  }

  /** Every user row of windows starting in [from, to), by window, GPU, then most time first. */
  usersBetween(from: number, to: number, gpuId?: number): UserWindow[] {
    if (!this.present()) return [];
    const rows = this.db
      .query(
        `SELECT w.window_start, w.gpu_id, u.name, w.gpu_seconds, w.sm_seconds, w.memory_max
         FROM user_windows w LEFT JOIN process_users u ON u.id = w.user_id
         WHERE w.window_start >= ?1 AND w.window_start < ?2 AND (?3 IS NULL OR w.gpu_id = ?3)
         ORDER BY w.window_start, w.gpu_id, w.gpu_seconds DESC, u.name`,
      )
      .values(from, to, gpuId ?? null) as Array<Array<number | string | null>>;
    return rows.map((r) => ({
      windowStart: r[0] as number,
      gpuId: r[1] as number,
      user: r[2] as string | null,
      gpuSeconds: r[3] as number,
      smSeconds: r[4] as number | null,
      memoryMax: r[5] as number | null,
    }));
  }

  /** How each GPU's process list went in windows starting in [from, to). */
  listsBetween(from: number, to: number): ProcessListWindow[] {
    if (!this.present()) return [];
    const rows = this.db
      .query(
        `SELECT window_start, gpu_id, listed_seconds, refused_seconds, refused_code FROM process_lists
         WHERE window_start >= ? AND window_start < ? ORDER BY window_start, gpu_id`,
      )
      .values(from, to) as Array<Array<number | string | null>>;
    return rows.map((r) => ({
      windowStart: r[0] as number,
      gpuId: r[1] as number,
      listedSeconds: r[2] as number,
      refusedSeconds: r[3] as number,
      refusedCode: r[4] as string | null,
    }));
  }

  /** Deletes the rows of windows older than `before` (identities no window names any more go too). */
  prune(before: number): number {
    if (!this.present()) return 0;
    try {
      return this.db.transaction(() => {
        let changes = 0;
        for (const table of ["process_windows", "user_windows", "process_lists"]) {
          changes += this.db.query(`DELETE FROM ${table} WHERE window_start < ?`).run(before).changes;
        }
        // Ticks of a window never aggregated (the window length changed, the clock went back).
        changes += this.db.query("DELETE FROM process_ticks WHERE ts < ?").run(before).changes;
        if (changes > 0) {
          // An identity the open window's ticks name stays: its id is in their blobs, not in a column.
          this.db
            .query("DELETE FROM processes WHERE id NOT IN (SELECT DISTINCT process_id FROM process_windows) AND id NOT IN (SELECT value FROM json_each(?))")
            .run(JSON.stringify(this.tickedProcessIds()));
          this.forgetIds();
        }
        return changes;
      }).immediate();
    } catch (error) {
      throw asStoreError(error, this.file);
    }
  }

  /** The process ids named by the ticks not yet folded. */
  private tickedProcessIds(): number[] {
    const ids = new Set<number>();
    for (const [entries] of this.db.query("SELECT entries FROM process_ticks WHERE entries IS NOT NULL").values() as Array<[Uint8Array]>) {
      const values = new Float64Array(entries.buffer.slice(entries.byteOffset, entries.byteOffset + entries.byteLength));
      for (let at = 0; at < values.length; at += TICK_ENTRY_VALUES) ids.add(values[at]!);
    }
    return [...ids];
  }

  /**
   * Usage per owner over windows starting in [from, to), summed in SQL (a year of
   * hourly rows is read once, never into memory row by row). Of each window's GPU
   * energy, the part of the window with at least one process on the GPU (occupied
   * seconds / seconds the list was read) is billed, the rest (idle) is no one's;
   * that part is split among the owners there: by SM share when every one of them
   * has it and it is above zero, else by time present.
   */
  usageBy(owner: Owner, from: number, to: number): OwnerUsage[] {
    if (!this.present()) return [];
    const source =
      owner === "user"
        ? "user_windows u"
        : "process_windows u JOIN processes p ON p.id = u.process_id";
    const key = { user: "u.user_id", process: "p.id", container: "p.container_id", pod: "p.pod_uid" }[owner];
    const label = {
      user: "(SELECT name FROM process_users WHERE id = owner_key), NULL, NULL, NULL, NULL",
      process: "owner_key, min(p.pid), min(p.name), min(pu.name), min(p.started_at)",
      container: "owner_key, NULL, NULL, NULL, NULL",
      pod: "owner_key, NULL, NULL, NULL, NULL",
    }[owner];
    // A MIG device has no energy reading of its own: it gets its GPU's, in proportion to its compute
    // slices (the N of an "Ng.…" profile) among those of the GPU's MIG devices sampled in the window.
    const migEnergy = tableColumns(this.db, "gpus").has("mig_profile")
      ? `, slice AS (
           SELECT g.id AS gpu_id, p.id AS parent_id, CAST(substr(g.mig_profile, 1, instr(g.mig_profile, 'g') - 1) AS INTEGER) AS slices
           FROM gpus g JOIN gpus p ON p.uid = g.parent_uid
         ), mig AS (
           SELECT a.window_start, sl.gpu_id,
             pa.energy_mj * 1.0 * sl.slices / nullif(sum(sl.slices) OVER (PARTITION BY a.window_start, sl.parent_id), 0) AS energy_mj
           FROM aggregates a JOIN slice sl ON sl.gpu_id = a.gpu_id
           JOIN aggregates pa ON pa.window_start = a.window_start AND pa.gpu_id = sl.parent_id
           WHERE a.window_start >= ?1 AND a.window_start < ?2
         )`
      : `, mig AS (SELECT NULL AS window_start, NULL AS gpu_id, NULL AS energy_mj WHERE 0)`;
    const rows = this.db
      .query(
        `WITH t AS (
           SELECT u.window_start, u.gpu_id, sum(u.gpu_seconds) AS seconds, sum(u.sm_seconds) AS sm, count(u.sm_seconds) = count(*) AS all_sm
           FROM ${source} WHERE u.window_start >= ?1 AND u.window_start < ?2 GROUP BY u.window_start, u.gpu_id
         )${migEnergy}, r AS (
           SELECT ${key} AS owner_key, u.*, coalesce(a.energy_mj, m.energy_mj) * 1.0 * l.occupied_seconds / nullif(l.listed_seconds + l.refused_seconds, 0) AS energy,
             (t.all_sm AND t.sm > 0) AS by_sm, t.sm AS sm_total, t.seconds AS seconds_total
           FROM ${source}
           JOIN t ON t.window_start = u.window_start AND t.gpu_id = u.gpu_id
           LEFT JOIN aggregates a ON a.window_start = u.window_start AND a.gpu_id = u.gpu_id
           LEFT JOIN mig m ON m.window_start = u.window_start AND m.gpu_id = u.gpu_id
           LEFT JOIN process_lists l ON l.window_start = u.window_start AND l.gpu_id = u.gpu_id
           WHERE u.window_start >= ?1 AND u.window_start < ?2
         )
         SELECT ${label},
           sum(gpu_seconds), sum(sm_seconds), coalesce(sum(CASE WHEN sm_seconds IS NOT NULL THEN gpu_seconds END), 0), max(memory_max),
           count(DISTINCT window_start),
           sum(energy * CASE WHEN by_sm THEN sm_seconds / sm_total ELSE gpu_seconds * 1.0 / seconds_total END),
           sum(CASE WHEN energy IS NOT NULL AND by_sm THEN 1 ELSE 0 END), sum(CASE WHEN energy IS NOT NULL AND NOT by_sm THEN 1 ELSE 0 END)
         FROM r ${owner === "process" ? "JOIN processes p ON p.id = owner_key LEFT JOIN process_users pu ON pu.id = p.user_id" : ""} GROUP BY owner_key`,
      )
      .values(from, to) as Array<Array<number | string | null>>;
    return rows.map((r) => ({
      key: r[0] as string | number | null,
      pid: r[1] as number | null,
      name: r[2] as string | null,
      user: r[3] as string | null,
      startedAt: r[4] as number | null,
      gpuSeconds: r[5] as number,
      smSeconds: r[6] as number | null,
      smKnownSeconds: r[7] as number,
      memoryMax: r[8] as number | null,
      windows: r[9] as number,
      energyMj: r[10] as number | null,
      energyBySm: r[11] as number,
      energyByTime: r[12] as number,
    }));
  }

  private userId(name: string): number {
    let id = this.userIds.get(name);
    if (id === undefined) {
      const s = this.statements!;
      s.user.run(name);
      id = (s.userId.get(name) as { id: number }).id;
      this.userIds.set(name, id);
    }
    return id;
  }

  private processId(process: TickProcess, userId: number): number {
    let byStart = this.processIds.get(process.pid);
    if (!byStart) this.processIds.set(process.pid, (byStart = new Map()));
    const key = `${process.startKey}/${process.bootId}/${process.hashed ? 1 : 0}`;
    let id = byStart.get(key);
    if (id === undefined) {
      const s = this.statements!;
      const hashed = process.hashed ? 1 : 0;
      s.process.run(process.pid, process.startKey, process.startedAt, process.name, process.uid, userId, process.containerId, process.podUid, process.note, process.bootId, hashed);
      id = (s.processId.get(process.pid, process.startKey, process.bootId, hashed) as { id: number }).id;
      byStart.set(key, id);
    }
    return id;
  }

  private prepare(): NonNullable<ProcessStore["statements"]> {
    const db = this.db;
    return {
      user: db.prepare("INSERT OR IGNORE INTO process_users (name) VALUES (?)"),
      userId: db.prepare("SELECT id FROM process_users WHERE name = ?"),
      process: db.prepare(
        `INSERT OR IGNORE INTO processes (pid, start_key, started_at, name, uid, user_id, container_id, pod_uid, note, boot_id, hashed)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      processId: db.prepare("SELECT id FROM processes WHERE pid = ? AND start_key = ? AND boot_id = ? AND hashed = ?"),
      tick: db.prepare("INSERT OR REPLACE INTO process_ticks (ts, gpu_id, seconds, refused_code, entries) VALUES (?, ?, ?, ?, ?)"),
      processWindow: db.prepare(
        `INSERT INTO process_windows (window_start, gpu_id, process_id, gpu_seconds, sm_seconds, memory_max, first_seen, last_seen)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (window_start, gpu_id, process_id) DO UPDATE SET
           gpu_seconds = gpu_seconds + excluded.gpu_seconds, ${ADD_SM}, ${MAX_MEMORY},
           first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen)`,
      ),
      userWindow: db.prepare(
        `INSERT INTO user_windows (window_start, gpu_id, user_id, gpu_seconds, sm_seconds, memory_max) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (window_start, gpu_id, user_id) DO UPDATE SET gpu_seconds = gpu_seconds + excluded.gpu_seconds, ${ADD_SM}, ${MAX_MEMORY}`,
      ),
      list: db.prepare(
        `INSERT INTO process_lists (window_start, gpu_id, listed_seconds, refused_seconds, refused_code, occupied_seconds) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (window_start, gpu_id) DO UPDATE SET
           listed_seconds = listed_seconds + excluded.listed_seconds, refused_seconds = refused_seconds + excluded.refused_seconds,
           occupied_seconds = occupied_seconds + excluded.occupied_seconds,
           refused_code = coalesce(excluded.refused_code, refused_code)`,
      ),
    };
  }
}
