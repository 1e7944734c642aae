// What happened to NVML and the GPUs (lost, back, driver gone, hung), for the record.

import type { Database } from "bun:sqlite";
import { asStoreError, tableColumns } from "./database.ts";

export interface StoredEvent {
  ts: number;
  kind: string;
  gpu_index: number | null;
  detail: string;
  /** The GPU's uuid and the event's code (an XID, an NVML return code), where the event has them. */
  gpu_uuid: string | null;
  code: number | null;
}

/** What an event may carry besides its text. */
export interface EventFacts {
  uuid?: string | null;
  code?: number | null;
}

export class EventStore {
  constructor(
    private readonly db: Database,
    private readonly file: string,
  ) {}

  record(ts: number, kind: string, gpuIndex: number | null, detail: string, facts: EventFacts = {}): void {
    try {
      this.db
        .query("INSERT INTO events (ts, kind, gpu_index, detail, gpu_uuid, code) VALUES (?, ?, ?, ?, ?, ?)")
        .run(ts, kind, gpuIndex, detail, facts.uuid ?? null, facts.code ?? null);
    } catch (error) {
      throw asStoreError(error, this.file);
    }
  }

  /** The newest `limit` events at or after `since`, newest first. */
  recent(limit: number, since = 0): StoredEvent[] {
    return this.db.query(`SELECT ${this.columns} FROM events WHERE ts >= ? ORDER BY id DESC LIMIT ?`).all(since, limit) as StoredEvent[];
  }

  /** Events of one kind in [from, to), oldest first. */
  between(from: number, to: number, kind: string): StoredEvent[] {
    return this.db.query(`SELECT ${this.columns} FROM events WHERE ts >= ? AND ts < ? AND kind = ? ORDER BY ts, id`).all(from, to, kind) as StoredEvent[];
  }

  private selected: string | null = null;

  /** A database from before migration 6 has no uuid or code: they read as null. */
  private get columns(): string {
    if (this.selected !== null) return this.selected;
    const have = tableColumns(this.db, "events");
    return this.selected = ["ts", "kind", "gpu_index", "detail", have.has("gpu_uuid") ? "gpu_uuid" : "NULL AS gpu_uuid", have.has("code") ? "code" : "NULL AS code"].join(", ");
  }

  /** Deletes up to `limit` events older than `before`. */
  prune(before: number, limit: number): number {
    return this.db.query("DELETE FROM events WHERE id IN (SELECT id FROM events WHERE ts < ? ORDER BY id LIMIT ?)").run(before, limit).changes;
  }
}
