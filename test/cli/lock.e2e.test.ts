// The compiled agent against a database another program holds locked: sampling
// goes on and every tick is stored once the lock goes, the log says so once, and a
// SIGTERM meanwhile is prompt.

import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnAgent } from "../helpers/binary.ts";
import { fakeNvmlLibrary, scenarioFile } from "../helpers/fakeNvml.ts";
import { storedSamples } from "../helpers/samples.ts";

const env = () => ({ GPU_MONITOR_NVML_LIBRARY: fakeNvmlLibrary("current"), FAKE_NVML_SCENARIO: scenarioFile("h100") });

function agentAt1s() {
  const dir = mkdtempSync(join(tmpdir(), "gpu-monitor-faults-"));
  const config = join(dir, "config.json");
  writeFileSync(config, JSON.stringify({ collection: { interval_seconds: 1 }, database: { file: "g.db" }, logging: { file: "" } }));
  const agent = spawnAgent(["run", "-c", config], env(), dir);
  return { agent, dbFile: join(dir, "g.db") };
}

/** Distinct sample times stored, ascending. */
function tickTimes(dbFile: string): number[] {
  return [...new Set(storedSamples(dbFile).map((row) => row.ts))].sort((a, b) => a - b);
}

async function untilStored(dbFile: string, ticks: number): Promise<void> {
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    try {
      if (tickTimes(dbFile).length >= ticks) return;
    } catch {
      // not created yet
    }
    await Bun.sleep(100);
  }
  throw new Error(`fewer than ${ticks} ticks stored after 10 s`);
}

/** Another program's connection holding the write lock, as a long transaction would. */
function holdWriteLock(dbFile: string, kind: "IMMEDIATE" | "EXCLUSIVE"): () => void {
  const other = new Database(dbFile);
  other.exec("PRAGMA busy_timeout = 5000");
  other.exec(`BEGIN ${kind}`);
  other.exec("CREATE TABLE IF NOT EXISTS other_program (x)"); // it writes, as a real one would
  return () => {
    other.exec("ROLLBACK");
    other.close();
  };
}

describe("a database another program holds locked", () => {
  test("sampling goes on through five locked ticks, every tick is stored once it is released, and the log says so once", async () => {
    const { agent, dbFile } = agentAt1s();
    await untilStored(dbFile, 2);
    const release = holdWriteLock(dbFile, "IMMEDIATE");
    await Bun.sleep(5200);
    release();
    await Bun.sleep(2500);
    const { exitCode, log } = await agent.stop();
    expect(exitCode).toBe(0);
    const times = tickTimes(dbFile);
    expect(times.length).toBeGreaterThanOrEqual(9); // 2 before, 5 while locked, 2 after
    expect(times.at(-1)! - times[0]! + 1).toBe(times.length); // one per second, none missing
    expect(log.match(/is locked by another process/g)).toHaveLength(1);
    expect(log.match(/the database takes writes again: stored \d+ tick\(s\) kept in memory/g)).toHaveLength(1);
    expect(log).not.toContain("not stored");
    expect(log.trimEnd().split("\n").length).toBeLessThanOrEqual(8); // started, NVML ready, locked, writes again, SIGTERM, stopped
  }, 30_000);

  test("SIGTERM while another program holds an exclusive lock: exit 0 within 2 s", async () => {
    const { agent, dbFile } = agentAt1s();
    await untilStored(dbFile, 1);
    const release = holdWriteLock(dbFile, "EXCLUSIVE");
    try {
      expect(await agent.waitFor("is locked by another process", 8000)).toBe(true);
      // A quarter of a second into a later tick: where a tick's write waits for the lock.
      await Bun.sleep(2250 - (Date.now() % 1000));
      const started = performance.now();
      const { exitCode, log } = await agent.stop();
      expect(exitCode).toBe(0);
      expect(performance.now() - started).toBeLessThan(2000);
      expect(log).toContain("agent: stopped");
    } finally {
      release();
    }
  }, 30_000);
});
