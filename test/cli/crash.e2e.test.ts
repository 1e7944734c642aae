// kill -9 at random moments, ten times, then a clean run: the database stays
// sound, no committed sample or window is lost, and no window is shipped twice
// except a resend with the same Idempotency-Key after a kill mid-request.

import { Database } from "bun:sqlite";
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compiledBinary } from "../helpers/binary.ts";
import { fakeNvmlLibrary, scenarioFile } from "../helpers/fakeNvml.ts";
import { storedSamples } from "../helpers/samples.ts";
import { startServer } from "../helpers/server.ts";

const server = startServer();
afterAll(() => server.stop());

test("ten kill -9s at random moments lose nothing committed and ship nothing twice", async () => {
  const dir = mkdtempSync(join(tmpdir(), "gpu-monitor-crash-"));
  const configPath = join(dir, "config.json");
  writeFileSync(
    configPath,
    JSON.stringify({
      server: { url: server.url, contract_number: "K-9", retry_initial_seconds: 1, retry_max_seconds: 1 },
      collection: { interval_seconds: 1, aggregation_interval_seconds: 2 },
      database: { file: "gpu_metrics.db" },
      logging: { file: "" },
    }),
  );
  const dbFile = join(dir, "gpu_metrics.db");
  const start = () =>
    Bun.spawn([compiledBinary(), "run", "-c", configPath], {
      cwd: dir,
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        GPU_MONITOR_NVML_LIBRARY: fakeNvmlLibrary("current"),
        FAKE_NVML_SCENARIO: scenarioFile("eight_gpus"),
      },
      stdout: "ignore",
      stderr: "ignore",
    });
  const committed = () => storedSamples(dbFile).map((r) => `${r.ts}:${r.gpu_id}`);

  let seen = new Set<string>();
  for (let kill = 0; kill < 10; kill++) {
    const agent = start();
    await Bun.sleep(700 + Math.floor(Math.random() * 1800));
    const before = new Set(committed());
    agent.kill("SIGKILL");
    await agent.exited;
    const after = new Set(committed());
    for (const key of before) expect(after.has(key)).toBe(true); // what was committed before the kill is still there
    for (const key of seen) expect(after.has(key)).toBe(true);
    seen = after;
  }
  const last = start();
  await Bun.sleep(4000);
  last.kill("SIGTERM");
  expect(await last.exited).toBe(0);

  const db = new Database(dbFile, { readonly: true });
  expect(db.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
  const rows = committed();
  for (const key of seen) expect(rows).toContain(key);
  // Every tick stored all eight GPUs: no half-written tick.
  const perTick = new Map<string, number>();
  for (const key of rows) perTick.set(key.split(":")[0]!, (perTick.get(key.split(":")[0]!) ?? 0) + 1);
  expect([...perTick.values()].filter((n) => n !== 8)).toEqual([]);
  // Every window from the first to the last is there once, the downtime included.
  const windows = (db.query("SELECT start, send_state FROM windows ORDER BY start").all() as Array<{ start: number; send_state: string }>);
  expect(windows.length).toBeGreaterThanOrEqual(5);
  for (let i = 1; i < windows.length; i++) expect(windows[i]!.start - windows[i - 1]!.start).toBe(2);
  expect(windows.every((w) => w.send_state === "sent")).toBe(true);
  db.close();

  // Shipped: each window at least once; a window received twice came with the same key (a resend after a kill).
  const byWindow = new Map<string, string[]>();
  for (const upload of server.received) {
    const list = byWindow.get(upload.body.aggregation_time) ?? [];
    list.push(upload.headers["idempotency-key"]!);
    byWindow.set(upload.body.aggregation_time, list);
  }
  expect(byWindow.size).toBe(windows.length);
  for (const keys of byWindow.values()) {
    expect(new Set(keys).size).toBe(1);
    expect(keys.length).toBeLessThanOrEqual(2); // at most the one resend
  }
}, 90_000);
