// The send ledger: which windows are pending, sent or failed, and every attempt.

import type { Database } from "bun:sqlite";
import { asStoreError } from "./database.ts";

export type SendState = "pending" | "sent" | "failed";

/** How one upload attempt ended: delivered, worth retrying, or refused for good. */
export type AttemptOutcome = "sent" | "retryable" | "fatal";

export interface LedgerWindow {
  start: number;
  period_seconds: number;
  send_state: SendState;
  next_attempt_at: number | null;
  fatal_count: number;
  failed_attempts: number;
}

export interface SendAttempt {
  window_start: number;
  attempted_at: number;
  outcome: AttemptOutcome;
  http_status: number | null;
  error: string | null;
  server_uid: string | null;
  latency_ms: number | null;
}

export interface WindowSummary {
  start: number;
  attempts: number;
  first_attempt: number | null;
  last_attempt: number | null;
  last_error: string | null;
  server_uid: string | null;
  send_state: SendState;
  sent_at: number | null;
}

export interface LedgerCounts {
  pending: number;
  sent: number;
  failed: number;
}

export class Ledger {
  constructor(
    private readonly db: Database,
    private readonly file: string,
  ) {}

  /** The oldest window not yet sent and not given up on. */
  oldestPending(): LedgerWindow | null {
    return this.db
      .query(
        `SELECT w.start, w.period_seconds, w.send_state, w.next_attempt_at, w.fatal_count,
           (SELECT count(*) FROM send_attempts a WHERE a.window_start = w.start AND a.outcome != 'sent') AS failed_attempts
         FROM windows w WHERE w.send_state = 'pending' ORDER BY w.start LIMIT 1`,
      )
      .get() as LedgerWindow | null;
  }

  /** Stores an attempt and its consequence for the window in one transaction. */
  recordAttempt(
    attempt: SendAttempt,
    next: { state: SendState; nextAttemptAt: number | null; fatalCount: number },
  ): void {
    try {
      this.db.transaction(() => {
        this.db
          .query(
            `INSERT INTO send_attempts (window_start, attempted_at, outcome, http_status, error, server_uid, latency_ms)
             VALUES (?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            attempt.window_start,
            attempt.attempted_at,
            attempt.outcome,
            attempt.http_status,
            attempt.error,
            attempt.server_uid,
            attempt.latency_ms,
          );
        this.db
          .query(
            `UPDATE windows SET send_state = ?, next_attempt_at = ?, fatal_count = ?,
               sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END,
               server_uid = coalesce(?, server_uid)
             WHERE start = ?`,
          )
          .run(next.state, next.nextAttemptAt, next.fatalCount, next.state, attempt.attempted_at, attempt.server_uid, attempt.window_start);
      }).immediate();
    } catch (error) {
      throw asStoreError(error, this.file);
    }
  }

  /** Puts windows back in the queue: one window, or every failed one. Returns how many. */
  requeue(which: number | "failed"): number {
    const sql =
      which === "failed"
        ? `UPDATE windows SET send_state = 'pending', next_attempt_at = NULL, fatal_count = 0 WHERE send_state = 'failed'`
        : `UPDATE windows SET send_state = 'pending', next_attempt_at = NULL, fatal_count = 0 WHERE start = ?`;
    return which === "failed" ? this.db.query(sql).run().changes : this.db.query(sql).run(which).changes;
  }

  /** Every window (or those starting in [from, to)) with its attempts summed up, newest first. */
  summaries(from = -Infinity, to = Infinity): WindowSummary[] {
    return this.db
      .query(
        `SELECT w.start, count(a.id) AS attempts, min(a.attempted_at) AS first_attempt, max(a.attempted_at) AS last_attempt,
           (SELECT error FROM send_attempts x WHERE x.window_start = w.start ORDER BY x.attempted_at DESC, x.id DESC LIMIT 1) AS last_error,
           w.server_uid, w.send_state, w.sent_at
         FROM windows w LEFT JOIN send_attempts a ON a.window_start = w.start
         WHERE w.start >= ? AND w.start < ?
         GROUP BY w.start ORDER BY w.start DESC`,
      )
      .all(from, to) as WindowSummary[];
  }

  /** Per window starting in [from, to), its latest failed attempt (retried, or refused for good): when, and why. */
  lastFailures(from = -Infinity, to = Infinity): Array<{ start: number; at: number; error: string }> {
    return this.db
      .query(
        `SELECT a.window_start AS start, a.attempted_at AS at, coalesce(a.error, CASE WHEN a.http_status IS NULL THEN a.outcome ELSE 'HTTP ' || a.http_status END) AS error
         FROM send_attempts a
         WHERE a.window_start >= ? AND a.window_start < ? AND a.outcome != 'sent'
           AND a.id = (SELECT x.id FROM send_attempts x WHERE x.window_start = a.window_start AND x.outcome != 'sent' ORDER BY x.attempted_at DESC, x.id DESC LIMIT 1)`,
      )
      .all(from, to) as Array<{ start: number; at: number; error: string }>;
  }

  summary(start: number): WindowSummary | null {
    return this.summaries().find((row) => row.start === start) ?? null;
  }

  attempts(start: number): SendAttempt[] {
    return this.db
      .query("SELECT * FROM send_attempts WHERE window_start = ? ORDER BY attempted_at, id")
      .all(start) as SendAttempt[];
  }

  counts(): LedgerCounts {
    const rows = this.db.query("SELECT send_state, count(*) AS n FROM windows GROUP BY send_state").all() as Array<{
      send_state: SendState;
      n: number;
    }>;
    const counts: LedgerCounts = { pending: 0, sent: 0, failed: 0 };
    for (const row of rows) counts[row.send_state] = row.n;
    return counts;
  }

  /**
   * Windows waiting to be sent, and those given up on: what the agent serves at every
   * tick. Counted through the windows_pending index (no sent window is in it), not by
   * scanning every window kept as counts() does (0.7 ms a tick for a year of hourly windows).
   */
  unsentCounts(): Omit<LedgerCounts, "sent"> {
    const rows = this.db.query("SELECT send_state, count(*) AS n FROM windows WHERE send_state != 'sent' GROUP BY send_state").all() as Array<{
      send_state: Exclude<SendState, "sent">;
      n: number;
    }>;
    const counts = { pending: 0, failed: 0 };
    for (const row of rows) counts[row.send_state] = row.n;
    return counts;
  }

  lastAttempt(): SendAttempt | null {
    return this.db.query("SELECT * FROM send_attempts ORDER BY attempted_at DESC, id DESC LIMIT 1").get() as SendAttempt | null;
  }

  getMeta(key: string): string | null {
    return (this.db.query("SELECT value FROM meta WHERE key = ?").get(key) as { value: string } | null)?.value ?? null;
  }

  setMeta(key: string, value: string): void {
    this.db.query("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(key, value);
  }
}
