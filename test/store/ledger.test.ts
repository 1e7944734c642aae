// The send ledger's counts: the full one (status) and the one the agent serves at every tick.

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
