// The compiled binary's -ss for scripts: one JSON document per window.

import { beforeAll, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { aggregateClosedWindows } from "../../src/aggregate/aggregator.ts";
import { Store } from "../../src/store/store.ts";
import { compiledBinary, runBinary } from "../helpers/binary.ts";
import { gpuSample, writeTick } from "../helpers/samples.ts";

beforeAll(() => compiledBinary());

test("-ss TIME -f json: the window as -ls shows it and every attempt; null and exit 0 when no window starts there; text stays the default", () => {
  const dir = mkdtempSync(join(tmpdir(), "gpu-monitor-ss-"));
  const config = join(dir, "config.json");
  writeFileSync(config, JSON.stringify({ collection: { interval_seconds: 1, aggregation_interval_seconds: 3 }, database: { file: "g.db" }, logging: { file: "" } }), { mode: 0o600 });
  const store = Store.open(join(dir, "g.db"));
  for (let t = 999; t < 1005; t++) writeTick(store, t, [gpuSample()]);
  aggregateClosedWindows(store, 1005, { periodSeconds: 3, intervalSeconds: 1 });
  store.ledger.recordAttempt(
    { window_start: 999, attempted_at: 1003, outcome: "retryable", http_status: 503, error: "server answered 503: maintenance", server_uid: null, latency_ms: 12 },
    { state: "pending", nextAttemptAt: 1010, fatalCount: 0 },
  );
  store.ledger.recordAttempt(
    { window_start: 999, attempted_at: 1011, outcome: "sent", http_status: 200, error: null, server_uid: "7f3c2a91", latency_ms: 9 },
    { state: "sent", nextAttemptAt: null, fatalCount: 0 },
  );
  store.close();
  const cli = (...args: string[]) => runBinary([...args, "-c", config], { TZ: "UTC" }, dir);
  const run = cli("-ss", "1970-01-01T00:16:40Z", "-f", "json");
  expect(run.exitCode).toBe(0);
  expect(JSON.parse(run.stdout)).toEqual({
    aggregation_time: "1970-01-01T00:16:39+00:00",
    attempts: 2,
    first_attempt: "1970-01-01T00:16:43+00:00",
    last_attempt: "1970-01-01T00:16:51+00:00",
    last_error: null,
    uid: "7f3c2a91",
    sent: 1,
    state: "sent",
    every_attempt: [
      { attempted_at: "1970-01-01T00:16:43+00:00", outcome: "retryable", http_status: 503, latency_ms: 12, error: "server answered 503: maintenance", uid: null },
      { attempted_at: "1970-01-01T00:16:51+00:00", outcome: "sent", http_status: 200, latency_ms: 9, error: null, uid: "7f3c2a91" },
    ],
  });
  const listed = JSON.parse(cli("-ls", "-f", "json").stdout).find((row: { aggregation_time: string }) => row.aggregation_time === "1970-01-01T00:16:39+00:00");
  expect(listed).toEqual({ ...JSON.parse(run.stdout), every_attempt: undefined });
  const none = cli("-ss", "1970-01-02T00:00:00Z", "--output-format", "json");
  expect(none.stdout).toBe("null\n");
  expect(none.stderr).toContain("No window starts at 1970-01-02T00:00:00+00:00");
  expect(none.exitCode).toBe(0);
  expect(cli("-ss", "1970-01-01T00:16:40Z").stdout).toStartWith("Send Attempt Details:\nAggregation Time: 1970-01-01T00:16:39+00:00\n");
  const csv = cli("-ss", "1970-01-01T00:16:40Z", "-f", "csv");
  expect(csv.stderr).toBe("gpu_monitor: usage error: --output-format must be text or json, not 'csv'\n");
  expect(csv.exitCode).toBe(2);
});
