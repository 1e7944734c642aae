// What happened to NVML and the GPUs (lost, back, driver gone, hung), for the record.

import type { Database } from "bun:sqlite";
import { asStoreError } from "./database.ts";

export interface StoredEvent {
  ts: number;
  kind: string;
  gpu_index: number | null;
  detail: string;
}

export class EventStore {
  constructor(
    private readonly db: Database,
    private readonly file: string,
  ) {}

  record(ts: number, kind: string, gpuIndex: number | null, detail: string): void {
    try {
      this.db.query("INSERT INTO events (ts, kind, gpu_index, detail) VALUES (?, ?, ?, ?)").run(ts, kind, gpuIndex, detail);
    } catch (error) {
      throw asStoreError(error, this.file);
    }
  }

  recent(limit: number): StoredEvent[] {
    return this.db.query("SELECT ts, kind, gpu_index, detail FROM events ORDER BY id DESC LIMIT ?").all(limit) as StoredEvent[];
  }

  /** Deletes up to `limit` events older than `before`. */
  prune(before: number, limit: number): number {
    return this.db.query("DELETE FROM events WHERE id IN (SELECT id FROM events WHERE ts < ? ORDER BY id LIMIT ?)").run(before, limit).changes;
  }
}
