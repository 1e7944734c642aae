// The GPUs a database has seen: identities kept once per GPU, not per sample.

import type { Database, Statement } from "bun:sqlite";
import { GPU_METRICS } from "../metrics/catalog.ts";
import { tableColumns } from "./database.ts";

/** A GPU's identity values, in GPU_METRICS order (uid first). */
export type GpuIdentityValues = ReadonlyArray<string | number | null>;

/** A stored GPU: its id and its identity values by GPU_METRICS name. */
export interface StoredGpu {
  id: number;
  identity: Readonly<Record<string, string | number | null>>;
  firstSeen: number;
  lastSeen: number;
}

const COLUMNS = GPU_METRICS.map((metric) => metric.gpuColumn!);
/** The identity that names a GPU: the first, its UUID. */
const UID = 0;

export class GpuStore {
  private readonly ids = new Map<string, number>();
  private readonly find: Statement;
  /** The writes, prepared at the first: a read-only command may open a database older than the catalog's columns. */
  private writes: { add: Statement; touch: Statement } | null = null;

  constructor(private readonly db: Database) {
    this.find = db.prepare("SELECT id FROM gpus WHERE uid = ?");
  }

  private prepareWrites(): { add: Statement; touch: Statement } {
    this.writes ??= {
      add: this.db.prepare(
        `INSERT INTO gpus (${COLUMNS.join(", ")}, first_seen, last_seen) VALUES (${COLUMNS.map(() => "?").join(", ")}, ?, ?) RETURNING id`,
      ),
      touch: this.db.prepare(
        `UPDATE gpus SET ${GPU_METRICS.filter((_, i) => i !== UID)
          .map(({ gpuColumn: c, keepLastKnown }) => (keepLastKnown ? `${c} = coalesce(?, ${c})` : `${c} = ?`))
          .join(", ")}, last_seen = ? WHERE id = ?`,
      ),
    };
    return this.writes;
  }

  /** The GPU's id, added or its identity brought up to date; inside the caller's transaction. */
  upsert(identity: GpuIdentityValues, ts: number): number {
    const uid = identity[UID] as string;
    const { add, touch } = this.prepareWrites();
    let id = this.ids.get(uid) ?? (this.find.get(uid) as { id: number } | null)?.id;
    if (id === undefined) {
      id = (add.get(...(identity as Array<string | number | null>), ts, ts) as { id: number }).id;
    } else {
      touch.run(...(identity.filter((_, i) => i !== UID) as Array<string | number | null>), ts, id);
    }
    this.ids.set(uid, id);
    return id;
  }

  /** Forgets cached ids: a rolled-back insert may have left one that does not exist. */
  forgetIds(): void {
    this.ids.clear();
  }

  /** Every GPU ever stored, by id. */
  all(): Map<number, StoredGpu> {
    // A column an older database (opened read-only, not migrated) lacks reads as NULL.
    const present = tableColumns(this.db, "gpus");
    const selected = COLUMNS.map((column) => (present.has(column) ? column : "NULL"));
    const rows = this.db.query(`SELECT id, first_seen, last_seen, ${selected.join(", ")} FROM gpus ORDER BY id`).values() as unknown[][];
    return new Map(
      rows.map((row) => [
        row[0] as number,
        {
          id: row[0] as number,
          firstSeen: row[1] as number,
          lastSeen: row[2] as number,
          identity: Object.fromEntries(COLUMNS.map((column, i) => [column, row[3 + i] as string | number | null])),
        },
      ]),
    );
  }

  /**
   * GPUs a window should account for even without samples: those seen in the day
   * before it. A GPU that was lost gets coverage 0 rather than vanishing; one
   * taken out of the host drops off after a day. A MIG device (it has a parent) is
   * never expected: a layout change or MIG turned off destroys it for good, so it is
   * in the windows it was sampled in and no other (no day-long false outage).
   */
  seenBefore(ts: number, withinSeconds: number): number[] {
    // A database older than the MIG columns (read-only, not migrated) has no MIG devices.
    const notMig = tableColumns(this.db, "gpus").has("parent_uid") ? " AND parent_uid IS NULL" : "";
    return (
      this.db.query(`SELECT id FROM gpus WHERE first_seen < ? AND last_seen >= ?${notMig} ORDER BY id`).all(ts, ts - withinSeconds) as Array<{ id: number }>
    ).map((row) => row.id);
  }
}
