import { describe, expect, test } from "bun:test";
import { searchSendJson } from "../../../src/cli/format/ledger.ts";
import type { SendAttempt, WindowSummary } from "../../../src/store/ledger.ts";

describe("-ss -f json", () => {
  test("the window as -ls shows it, then every attempt", () => {
    const row = { start: 0, attempts: 2, first_attempt: 10.4, last_attempt: 70.9, last_error: null, server_uid: "u1", send_state: "sent" } as unknown as WindowSummary;
    const attempts = [
      { window_start: 0, attempted_at: 10.4, outcome: "retryable", http_status: 503, error: "server answered 503: maintenance", server_uid: null, latency_ms: 12 },
      { window_start: 0, attempted_at: 70.9, outcome: "sent", http_status: 200, error: null, server_uid: "u1", latency_ms: 9 },
    ] as unknown as SendAttempt[];
    const previousTz = process.env.TZ;
    process.env.TZ = "UTC";
    try {
      expect(JSON.parse(searchSendJson(row, attempts))).toEqual({
        aggregation_time: "1970-01-01T00:00:00+00:00",
        attempts: 2,
        first_attempt: "1970-01-01T00:00:10+00:00",
        last_attempt: "1970-01-01T00:01:10+00:00",
        last_error: null,
        uid: "u1",
        sent: 1,
        state: "sent",
        every_attempt: [
          { attempted_at: "1970-01-01T00:00:10+00:00", outcome: "retryable", http_status: 503, latency_ms: 12, error: "server answered 503: maintenance", uid: null },
          { attempted_at: "1970-01-01T00:01:10+00:00", outcome: "sent", http_status: 200, latency_ms: 9, error: null, uid: "u1" },
        ],
      });
    } finally {
      process.env.TZ = previousTz;
    }
  });
  test("no such window: null", () => {
    expect(searchSendJson(null, [])).toBe("null\n");
  });
});
