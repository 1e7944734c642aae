// -ls, -ss and status output, in the original tool's shapes where it had one.
// What a server sent (its uid, its error text) is escaped in the text forms.

import { escapeControl } from "../../util/text.ts";
import { formatTime } from "../../util/time.ts";
import type { SendAttempt, WindowSummary } from "../../store/ledger.ts";

const orNone = (value: string | number | null | undefined) => (value === null || value === undefined ? "None" : escapeControl(String(value)));
const when = (seconds: number | null) => (seconds === null ? "None" : formatTime(Math.floor(seconds)));

/** One window in -ls and -ss JSON: the original tool's fields, then the state. */
function windowJson(row: WindowSummary) {
  return {
    aggregation_time: formatTime(row.start),
    attempts: row.attempts,
    first_attempt: row.first_attempt === null ? null : formatTime(Math.floor(row.first_attempt)),
    last_attempt: row.last_attempt === null ? null : formatTime(Math.floor(row.last_attempt)),
    last_error: row.last_error,
    uid: row.server_uid,
    sent: row.send_state === "sent" ? 1 : 0,
    state: row.send_state,
  };
}

export function listSendsJson(rows: WindowSummary[]): string {
  return JSON.stringify(rows.map(windowJson), null, 2) + "\n";
}

/**
 * -ss -f json: the window as -ls shows it, and every attempt in `every_attempt`
 * (`attempted_at`, `outcome`: sent|retryable|fatal, `http_status` or null, `latency_ms`,
 * `error`, `uid`); `null` when no window starts there.
 */
export function searchSendJson(row: WindowSummary | null, attempts: SendAttempt[]): string {
  if (row === null) return "null\n";
  const every = attempts.map((attempt) => ({
    attempted_at: formatTime(Math.floor(attempt.attempted_at)),
    outcome: attempt.outcome,
    http_status: attempt.http_status,
    latency_ms: attempt.latency_ms,
    error: attempt.error,
    uid: attempt.server_uid,
  }));
  return JSON.stringify({ ...windowJson(row), every_attempt: every }, null, 2) + "\n";
}

/** The original table: `Aggregation Time | Attempts | First Attempt | Last Attempt | Last Error | UID | Sent`. */
export function listSendsTable(rows: WindowSummary[]): string {
  const lines = ["Send Attempts:", "Aggregation Time | Attempts | First Attempt | Last Attempt | Last Error | UID | Sent"];
  for (const row of rows) {
    lines.push(
      [
        formatTime(row.start),
        row.attempts,
        when(row.first_attempt),
        when(row.last_attempt),
        orNone(row.last_error),
        orNone(row.server_uid),
        row.send_state === "sent" ? 1 : 0,
      ].join(" | "),
    );
  }
  return lines.join("\n") + "\n";
}

/** The original detail block, then every attempt. */
export function searchSendText(row: WindowSummary, attempts: SendAttempt[]): string {
  const lines = [
    "Send Attempt Details:",
    `Aggregation Time: ${formatTime(row.start)}`,
    `Attempts: ${row.attempts}`,
    `First Attempt: ${when(row.first_attempt)}`,
    `Last Attempt: ${when(row.last_attempt)}`,
    `Last Error: ${orNone(row.last_error)}`,
    `UID: ${orNone(row.server_uid)}`,
    `Sent: ${row.send_state === "sent" ? 1 : 0}`,
    `State: ${row.send_state}`,
  ];
  if (attempts.length > 0) {
    lines.push("", "Every attempt:");
    for (const attempt of attempts) {
      const status = attempt.http_status === null ? "no HTTP reply" : `HTTP ${attempt.http_status}`;
      const detail = attempt.outcome === "sent" ? `uid ${orNone(attempt.server_uid)}` : orNone(attempt.error);
      lines.push(`  ${when(attempt.attempted_at)} | ${attempt.outcome} | ${status} | ${attempt.latency_ms ?? "?"} ms | ${detail}`);
    }
  }
  return lines.join("\n") + "\n";
}
