// The send ledger's counts: the full one (status) and the one the agent serves at every tick.

import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { aggregateClosedWindows } from "../../src/aggregate/aggregator.ts";
import type { SendState } from "../../src/store/ledger.ts";
import { Store } from "../../src/store/store.ts";
import { eightGpus, tempDatabase, writeTick } from "../helpers/samples.ts";

test("unsentCounts gives counts()' pending and failed windows (through the index of unsent windows)", () => {
  const store = Store.open(tempDatabase());
  for (let t = 1000; t < 1060; t++) writeTick(store, t, eightGpus(t));
  aggregateClosedWindows(store, 1060, { periodSeconds: 10, intervalSeconds: 1 });
  const states: SendState[] = ["sent", "failed", "sent", "pending", "failed", "sent"];
  states.forEach((state, i) => {
    if (state === "pending") return;
    const attempt = { window_start: 1000 + i * 10, attempted_at: 2000 + i, outcome: state === "sent" ? "sent" : "fatal", http_status: null, error: null, server_uid: null, latency_ms: null } as const;
    store.ledger.recordAttempt(attempt, { state, nextAttemptAt: null, fatalCount: state === "failed" ? 1 : 0 });
  });
  expect(store.ledger.counts()).toEqual({ pending: 1, sent: 3, failed: 2 });
  expect(store.ledger.unsentCounts()).toEqual({ pending: 1, failed: 2 });
  store.ledger.requeue("failed");
  expect(store.ledger.unsentCounts()).toEqual({ pending: 3, failed: 0 });
  store.close();
});

test("unsentCounts of an empty ledger is zero of each", () => {
  const store = Store.open(tempDatabase());
  expect(store.ledger.unsentCounts()).toEqual({ pending: 0, failed: 0 });
  store.close();
});

test("lastAttempt is the latest attempt, found through the index on attempted_at, not by sorting every attempt", () => {
  const file = tempDatabase();
  const store = Store.open(file);
  for (let t = 1000; t < 1030; t++) writeTick(store, t, eightGpus(t));
  aggregateClosedWindows(store, 1030, { periodSeconds: 10, intervalSeconds: 1 });
  for (const [i, at] of [2005, 2009, 2001].entries()) {
    const attempt = { window_start: 1000 + i * 10, attempted_at: at, outcome: "retryable", http_status: 503, error: `e${i}`, server_uid: null, latency_ms: 1 } as const;
    store.ledger.recordAttempt(attempt, { state: "pending", nextAttemptAt: null, fatalCount: 0 });
  }
  expect(store.ledger.lastAttempt()).toMatchObject({ window_start: 1010, attempted_at: 2009, error: "e1" });
  store.close();
  const db = new Database(file, { readonly: true });
  const plan = (db.query("EXPLAIN QUERY PLAN SELECT * FROM send_attempts ORDER BY attempted_at DESC, id DESC LIMIT 1").all() as Array<{ detail: string }>).map((row) => row.detail);
  db.close();
  expect(plan).toEqual(["SCAN send_attempts USING INDEX send_attempts_at"]);
});
