// SIGTERM to the compiled agent while the filesystem under its database is frozen
// (fsfreeze, as a snapshot backup does): it exits 0 within 2 s, leaving the database
// to its WAL. Needs root and a loop-mounted filesystem of its own; skipped elsewhere.
//
// A write issued while the filesystem is frozen waits in the kernel, unkillable, until
// it thaws: no process can exit while one of its threads is inside such a write. So
// the stop path must not write at all; this is what the test holds it to.

import { Database } from "bun:sqlite";
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnAgent } from "../helpers/binary.ts";
import { fakeNvmlLibrary, scenarioFile } from "../helpers/fakeNvml.ts";

const work = mkdtempSync(join(tmpdir(), "gpu-monitor-freeze-"));
const mountPoint = join(work, "mnt");
let mounted = false;

function sh(args: string[]): boolean {
  return Bun.spawnSync(args, { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
}

beforeAll(() => {
  if (process.platform !== "linux" || process.getuid?.() !== 0) return;
  const image = join(work, "fs.img");
  mkdirSync(mountPoint);
  mounted =
    sh(["truncate", "-s", "32M", image]) && sh(["mkfs.ext4", "-q", "-F", image]) && sh(["mount", "-o", "loop", image, mountPoint]) && sh(["which", "fsfreeze"]);
});

afterAll(() => {
  if (!mounted) return;
  sh(["fsfreeze", "-u", mountPoint]);
  sh(["umount", mountPoint]);
});

function ticksStored(file: string): number {
  try {
    const db = new Database(file, { readonly: true });
    try {
      return (db.query("SELECT count(DISTINCT ts) AS n FROM samples").get() as { n: number }).n;
    } finally {
      db.close();
    }
  } catch {
    return 0; // not created yet
  }
}

test.skipIf(process.platform !== "linux" || process.getuid?.() !== 0)(
  "SIGTERM while the database's filesystem is frozen: exit 0 within 2 s",
  async () => {
    if (!mounted) throw new Error("could not mount a loop filesystem (root, mkfs.ext4, mount -o loop and fsfreeze are needed)");
    const dir = join(mountPoint, "agent");
    mkdirSync(dir);
    const config = join(dir, "config.json");
    writeFileSync(config, JSON.stringify({ collection: { interval_seconds: 2 }, database: { file: "g.db" }, logging: { file: "" } }));
    const agent = spawnAgent(["run", "-c", config], { GPU_MONITOR_NVML_LIBRARY: fakeNvmlLibrary("current"), FAKE_NVML_SCENARIO: scenarioFile("h100") }, dir);
    const file = join(dir, "g.db");
    let frozen = false;
    try {
      const until = Date.now() + 15_000;
      while (ticksStored(file) < 2 && Date.now() < until) await Bun.sleep(50);
      const before = ticksStored(file);
      expect(before).toBeGreaterThanOrEqual(2);
      while (ticksStored(file) === before && Date.now() < until) await Bun.sleep(20);
      // Just after a tick: the next is about 2 s away, so the agent is idle when frozen.
      frozen = sh(["fsfreeze", "-f", mountPoint]);
      expect(frozen).toBe(true);
      const started = performance.now();
      agent.process.kill("SIGTERM");
      const exitCode = await Promise.race([agent.process.exited, Bun.sleep(4000).then(() => null)]);
      const stopMs = performance.now() - started;
      expect({ exitCode, within2s: stopMs < 2000 }).toEqual({ exitCode: 0, within2s: true });
    } finally {
      if (frozen) sh(["fsfreeze", "-u", mountPoint]);
      agent.process.kill("SIGKILL");
      await agent.process.exited;
    }
    // Thawed, the database holds every tick the agent stored.
    expect(ticksStored(file)).toBeGreaterThanOrEqual(3);
  },
  30_000,
);
