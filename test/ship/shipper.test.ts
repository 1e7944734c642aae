// The shipper with a real SQLite ledger and a real HTTP server on 127.0.0.1.

import { afterEach, describe, expect, test } from "bun:test";
import * as v from "valibot";
import { aggregateClosedWindows } from "../../src/aggregate/aggregator.ts";
import { ConfigSchema } from "../../src/config/schema.ts";
import { createLogger } from "../../src/log.ts";
import { Shipper } from "../../src/ship/shipper.ts";
import { Store } from "../../src/store/store.ts";
import { eightGpus, tempDatabase, writeTick } from "../helpers/samples.ts";
import { acceptAll, startServer, type TestServer } from "../helpers/server.ts";

let server: TestServer | null = null;
afterEach(() => server?.stop());

const quiet = createLogger("CRITICAL", { write: () => true } as unknown as NodeJS.WritableStream);

/** A store with `windows` closed 10-second windows of 8 GPUs. */
function storeWithWindows(windows: number): Store {
  const store = Store.open(tempDatabase());
  for (let t = 1000; t < 1000 + windows * 10; t++) writeTick(store, t, eightGpus(t));
  aggregateClosedWindows(store, 1000 + windows * 10, { periodSeconds: 10, intervalSeconds: 1 });
  return store;
}

function shipper(store: Store, url: string, clock: { now: number }, extra: Record<string, unknown> = {}) {
  const config = v.parse(ConfigSchema, {
    server: { url, contract_number: "12345", retry_initial_seconds: 10, retry_max_seconds: 100, max_attempts: 3, timeout_seconds: 2, ...extra },
  });
  return new Shipper({ store, config, logger: quiet, now: () => clock.now, random: () => 1 });
}

describe("shipping", () => {
  test("a backlog drains oldest first, one request at a time, without waiting for the next window", async () => {
    const store = storeWithWindows(5);
    server = startServer();
    const results = await shipper(store, server.url, { now: 5000 }).kick();
    expect(results.map((r) => r.state)).toEqual(["sent", "sent", "sent", "sent", "sent"]);
    expect(server.received.map((u) => u.body.aggregation_time)).toEqual([
      "1970-01-01T00:16:40Z",
      "1970-01-01T00:16:50Z",
      "1970-01-01T00:17:00Z",
      "1970-01-01T00:17:10Z",
      "1970-01-01T00:17:20Z",
    ]);
    const first = server.received[0]!.body;
    expect(first).toMatchObject({ contract_number: "12345", period_seconds: 10 });
    expect(first.host).toMatchObject({ agent_version: expect.any(String), machine_id: expect.any(String) });
    expect(first.gpus).toHaveLength(8);
    expect(first.gpus[0]).toMatchObject({ uid: "GPU-00000000-0000-0000-0000-000000000000", sample_count: 10, coverage: 1 });
    expect(store.ledger.counts()).toEqual({ pending: 0, sent: 5, failed: 0 });
    // Nothing is ever sent twice.
    expect(await shipper(store, server.url, { now: 6000 }).kick()).toEqual([]);
    expect(server.received).toHaveLength(5);
    store.close();
  });

  test("an outage: windows wait their backoff in order, then every one is delivered once; the ledger has every attempt", async () => {
    const store = storeWithWindows(4);
    let down = true;
    server = startServer((upload) => (down ? new Response("maintenance", { status: 503 }) : acceptAll(upload)));
    const clock = { now: 5000 };
    const ship = shipper(store, server.url, clock);
    expect((await ship.kick()).map((r) => [r.state, r.error])).toEqual([["pending", "server answered 503: maintenance"]]);
    expect(await ship.kick()).toEqual([]); // still inside its backoff (10 s)
    clock.now += 10;
    expect((await ship.kick()).map((r) => r.state)).toEqual(["pending"]); // second failure: 20 s
    clock.now += 20;
    down = false;
    expect((await ship.kick()).map((r) => r.state)).toEqual(["sent", "sent", "sent", "sent"]);
    const delivered = server.received.filter((_, n) => n >= 2).map((u) => u.body.aggregation_time);
    expect(delivered).toEqual([...delivered].sort());
    expect(new Set(delivered).size).toBe(4);
    const ledger = store.ledger;
    expect(ledger.attempts(1000).map((a) => [a.outcome, a.http_status])).toEqual([
      ["retryable", 503],
      ["retryable", 503],
      ["sent", 200],
    ]);
    // The Idempotency-Key of a window is the same on every attempt.
    const keys = server.received.filter((u) => u.body.aggregation_time === "1970-01-01T00:16:40Z").map((u) => u.headers["idempotency-key"]);
    expect(new Set(keys).size).toBe(1);
    store.close();
  });

  test("permanent failures count toward max_attempts, then the window is failed and the next goes", async () => {
    const store = storeWithWindows(2);
    server = startServer((upload) =>
      upload.body.aggregation_time === "1970-01-01T00:16:40Z" ? new Response("bad contract", { status: 400 }) : acceptAll(upload),
    );
    const clock = { now: 5000 };
    const ship = shipper(store, server.url, clock);
    for (let i = 0; i < 2; i++) {
      expect((await ship.kick()).at(-1)!.state).toBe("pending");
      clock.now += 1000;
    }
    const third = await ship.kick();
    expect(third.map((r) => r.state)).toEqual(["failed", "sent"]);
    const ledger = store.ledger;
    expect(ledger.counts()).toEqual({ pending: 0, sent: 1, failed: 1 });
    expect(ledger.summary(1000)).toMatchObject({ attempts: 3, last_error: "server answered 400: bad contract", send_state: "failed" });
    // send --resend failed puts it back, and it goes when the server accepts it.
    expect(ledger.requeue("failed")).toBe(1);
    server.answer = acceptAll;
    expect((await ship.kick()).map((r) => r.state)).toEqual(["sent"]);
    expect(ledger.counts()).toEqual({ pending: 0, sent: 2, failed: 0 });
    store.close();
  });

  test("Retry-After is honoured", async () => {
    const store = storeWithWindows(1);
    server = startServer(() => new Response("", { status: 429, headers: { "Retry-After": "600" } }));
    const [result] = await shipper(store, server.url, { now: 5000 }).kick();
    expect(result!.nextAttemptAt).toBe(5600);
    store.close();
  });

  test("a retry less than a second away is announced as 1 s, not 0 s", async () => {
    const store = storeWithWindows(1);
    server = startServer(() => new Response("busy", { status: 503 }));
    const lines: string[] = [];
    const logger = createLogger("WARNING", { write: (line: string) => lines.push(line) } as unknown as NodeJS.WritableStream);
    const config = v.parse(ConfigSchema, { server: { url: server.url, retry_initial_seconds: 1, retry_max_seconds: 10 } });
    const [result] = await new Shipper({ store, config, logger, now: () => 5000, random: () => 0.3 }).kick();
    expect(result!.nextAttemptAt).toBeCloseTo(5000.3);
    expect(lines.join("")).toContain("next try in 1 s");
    store.close();
  });
});
