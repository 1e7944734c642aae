// Who used each GPU, per window: a process's identity once, and per window per
// GPU one row per process and one per user, added to tick by tick inside the
// tick's own transaction (so a kill -9 loses at most the tick in flight).

import type { Database, Statement } from "bun:sqlite";
import type { TickProcess, TickProcesses } from "../aggregate/attribution.ts";
import { asStoreError, tableColumns } from "./database.ts";

/** user_id of a process whose owner is unknown. */
const UNKNOWN_USER = 0;

/** One process's use of one GPU over one window, as read back. */
export interface ProcessWindow {
  windowStart: number;
  gpuId: number;
  pid: number;
  startedAt: number | null;
  name: string | null;
  uid: number | null;
  user: string | null;
  containerId: string | null;
  podUid: string | null;
  note: string | null;
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
    processWindow: Statement;
    userWindow: Statement;
    list: Statement;
  } | null = null;
  /** Ids known to be stored; forgotten when a transaction rolls back. */
  private readonly processIds = new Map<string, number>();
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

  /** Adds one GPU's tick to its windows. Runs inside the caller's transaction. */
  recordTick(ts: number, gpuId: number, tick: TickProcesses): void {
    const s = (this.statements ??= this.prepare());
    const { windowStart, seconds } = tick;
    s.list.run(windowStart, gpuId, tick.processes ? seconds : 0, tick.processes ? 0 : seconds, tick.refusedCode);
    if (!tick.processes) return;
    const users = new Map<number, { sm: number | null; memory: number | null }>();
    for (const process of tick.processes) {
      const userId = process.user === null ? UNKNOWN_USER : this.userId(process.user);
      const processId = this.processId(process, userId);
      const smSeconds = process.smShare === null ? null : process.smShare * seconds;
      s.processWindow.run(windowStart, gpuId, processId, seconds, smSeconds, process.memoryBytes, ts, ts);
      const user = users.get(userId);
      if (!user) users.set(userId, { sm: smSeconds, memory: process.memoryBytes });
      else {
        if (smSeconds !== null) user.sm = (user.sm ?? 0) + smSeconds;
        if (process.memoryBytes !== null) user.memory = (user.memory ?? 0) + process.memoryBytes;
      }
    }
    for (const [userId, user] of users) s.userWindow.run(windowStart, gpuId, userId, seconds, user.sm, user.memory);
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
        if (changes > 0) {
          this.db.query("DELETE FROM processes WHERE id NOT IN (SELECT DISTINCT process_id FROM process_windows)").run();
          this.forgetIds();
        }
        return changes;
      }).immediate();
    } catch (error) {
      throw asStoreError(error, this.file);
    }
  }

  /**
   * Usage per owner over windows starting in [from, to), summed in SQL (a year of
   * hourly rows is read once, never into memory row by row). Each window's GPU
   * energy is split among the owners on that GPU then: by SM share when every one
   * of them has it and it is above zero, else by time present.
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
    const rows = this.db
      .query(
        `WITH t AS (
           SELECT u.window_start, u.gpu_id, sum(u.gpu_seconds) AS seconds, sum(u.sm_seconds) AS sm, count(u.sm_seconds) = count(*) AS all_sm
           FROM ${source} WHERE u.window_start >= ?1 AND u.window_start < ?2 GROUP BY u.window_start, u.gpu_id
         ), r AS (
           SELECT ${key} AS owner_key, u.*, a.energy_mj AS energy, (t.all_sm AND t.sm > 0) AS by_sm, t.sm AS sm_total, t.seconds AS seconds_total
           FROM ${source}
           JOIN t ON t.window_start = u.window_start AND t.gpu_id = u.gpu_id
           LEFT JOIN aggregates a ON a.window_start = u.window_start AND a.gpu_id = u.gpu_id
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
    const key = `${process.pid}:${process.startKey}`;
    let id = this.processIds.get(key);
    if (id === undefined) {
      const s = this.statements!;
      s.process.run(process.pid, process.startKey, process.startedAt, process.name, process.uid, userId, process.containerId, process.podUid, process.note);
      id = (s.processId.get(process.pid, process.startKey) as { id: number }).id;
      this.processIds.set(key, id);
    }
    return id;
  }

  private prepare(): NonNullable<ProcessStore["statements"]> {
    const db = this.db;
    return {
      user: db.prepare("INSERT OR IGNORE INTO process_users (name) VALUES (?)"),
      userId: db.prepare("SELECT id FROM process_users WHERE name = ?"),
      process: db.prepare(
        `INSERT OR IGNORE INTO processes (pid, start_key, started_at, name, uid, user_id, container_id, pod_uid, note)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      processId: db.prepare("SELECT id FROM processes WHERE pid = ? AND start_key = ?"),
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
        `INSERT INTO process_lists (window_start, gpu_id, listed_seconds, refused_seconds, refused_code) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (window_start, gpu_id) DO UPDATE SET
           listed_seconds = listed_seconds + excluded.listed_seconds, refused_seconds = refused_seconds + excluded.refused_seconds,
           refused_code = coalesce(excluded.refused_code, refused_code)`,
      ),
    };
  }
}
