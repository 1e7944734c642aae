// The compiled agent on a filesystem that fills up (SQLITE_FULL) and frees again:
// sampling goes on, every tick is stored once there is room, and the log says so once
// each way with a count, not a line or two a tick. Needs root and a loop-mounted
// filesystem of its own; skipped elsewhere.

import { Database } from "bun:sqlite";
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnAgent } from "../helpers/binary.ts";
import { fakeNvmlLibrary, scenarioFile } from "../helpers/fakeNvml.ts";

const work = mkdtempSync(join(tmpdir(), "gpu-monitor-full-"));
const mountPoint = join(work, "mnt");
let mounted = false;
const root = process.platform === "linux" && process.getuid?.() === 0;

function sh(args: string[]): boolean {
  return Bun.spawnSync(args, { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
}

beforeAll(() => {
  if (!root) return;
  const image = join(work, "fs.img");
  mkdirSync(mountPoint);
  // No blocks reserved for root: the test runs as root and must be able to fill it.
  mounted = sh(["truncate", "-s", "16M", image]) && sh(["mkfs.ext4", "-q", "-F", "-m", "0", image]) && sh(["mount", "-o", "loop", image, mountPoint]);
});

afterAll(() => {
  if (mounted) sh(["umount", mountPoint]);
});

function tickTimes(file: string): number[] {
  const db = new Database(file, { readonly: true });
  try {
    return (db.query("SELECT DISTINCT ts FROM samples ORDER BY ts").all() as Array<{ ts: number }>).map((row) => row.ts);
  } finally {
    db.close();
  }
}

test.skipIf(!root)(
  "a full disk for four ticks: sampling goes on, every tick is stored once there is room, one line each way",
  async () => {
    if (!mounted) throw new Error("could not mount a loop filesystem (root, mkfs.ext4 and mount -o loop are needed)");
    const dir = join(mountPoint, "agent");
    mkdirSync(dir);
    const config = join(dir, "config.json");
    writeFileSync(config, JSON.stringify({ collection: { interval_seconds: 1 }, database: { file: "g.db" }, logging: { file: "" } }));
    const agent = spawnAgent(["run", "-c", config], { GPU_MONITOR_NVML_LIBRARY: fakeNvmlLibrary("current"), FAKE_NVML_SCENARIO: scenarioFile("h100") }, dir);
    const file = join(dir, "g.db");
    const filler = join(mountPoint, "filler");
    try {
      expect(await agent.waitFor("NVML ready", 10_000)).toBe(true);
      await Bun.sleep(2500);
      sh(["dd", "if=/dev/zero", `of=${filler}`, "bs=1k"]); // until ENOSPC
      expect(Number(statfsSync(mountPoint).bavail)).toBeLessThan(4);
      expect(await agent.waitFor("the disk is full", 8000)).toBe(true);
      await Bun.sleep(4000);
      rmSync(filler);
      expect(await agent.waitFor("the database takes writes again", 5000)).toBe(true);
      await Bun.sleep(1500);
    } catch (error) {
      agent.process.kill("SIGKILL"); // so the filesystem can be unmounted
      throw error;
    } finally {
      rmSync(filler, { force: true });
    }
    const { exitCode, log } = await agent.stop();
    expect(exitCode).toBe(0);
    const times = tickTimes(file);
    expect(times.length).toBeGreaterThanOrEqual(9);
    expect(times.at(-1)! - times[0]! + 1).toBe(times.length); // one per second, none missing
    expect(log.match(/the disk is full/g)).toHaveLength(1);
    expect(log.match(/the database takes writes again: stored \d+ tick\(s\) kept in memory/g)).toHaveLength(1);
    expect(log.trimEnd().split("\n").length).toBeLessThanOrEqual(8);
  },
  40_000,
);
