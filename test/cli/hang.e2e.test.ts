// An NVML call that blocks (the fake's hang_once_ms) under the compiled agent:
// the tick is skipped, the rest goes on, and sampling resumes when it returns.

import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runBinary, spawnAgent } from "../helpers/binary.ts";
import { fakeNvmlLibrary, scenarioFile } from "../helpers/fakeNvml.ts";

function hungAgent(hangMs: number, onRead = 3, intervalSeconds = 1) {
  const dir = mkdtempSync(join(tmpdir(), "gpu-monitor-hang-"));
  const scenario = join(dir, "scenario.conf");
  writeFileSync(scenario, `${readFileSync(scenarioFile("h100"), "utf8")}\ngpu0.hang_once_ms = ${hangMs}\ngpu0.hang_on_read = ${onRead}\n`);
  const config = join(dir, "config.json");
  writeFileSync(
    config,
    JSON.stringify({
      collection: { interval_seconds: intervalSeconds, aggregation_interval_seconds: 2 * intervalSeconds },
      database: { file: "g.db" },
      logging: { file: "" },
    }),
  );
  const env = { GPU_MONITOR_NVML_LIBRARY: fakeNvmlLibrary("current"), FAKE_NVML_SCENARIO: scenario };
  return { agent: spawnAgent(["run", "-c", config], env, dir), dir, config, env };
}

test("a hung NVML call skips ticks without stopping the agent; sampling resumes when it returns", async () => {
  const { agent, config, env, dir } = hungAgent(3500);
  await Bun.sleep(4000);
  // Mid-hang, the agent still serves: its lock, its database and the loop are alive.
  const midHang = JSON.parse(runBinary(["status", "-f", "json", "-c", config], env, dir).stdout);
  expect(midHang.agent).toEqual({ running: true, pid: agent.process.pid });
  await Bun.sleep(4000);
  const { exitCode, log } = await agent.stop();
  expect(exitCode).toBe(0);
  expect(log).toContain("an NVML call has not returned within 0.8 s: ticks are skipped until the driver answers");
  expect(log).toMatch(/NVML answered again after \d+ s: sampling resumes/);
  const samples = JSON.parse(runBinary(["export", "--from", "2020-01-01", "-c", config], env, dir).stdout);
  const times = samples.map((g: { timestamp: string }) => Date.parse(g.timestamp) / 1000);
  const gaps = times.slice(1).map((t: number, i: number) => t - times[i]);
  expect(Math.max(...gaps)).toBeGreaterThanOrEqual(3); // the hung seconds are a gap...
  expect(times.length).toBeGreaterThanOrEqual(4); // ...with samples before and after it
  const windows = JSON.parse(runBinary(["export", "--from", "2020-01-01", "--level", "hourly", "-c", config], env, dir).stdout);
  expect(windows.some((w: { gpus: Array<{ coverage: number }> }) => w.gpus[0]!.coverage < 1)).toBe(true);
}, 30_000);

test("SIGTERM while an NVML call hangs, inside its 10 s deadline: exit 0 within 2 s", async () => {
  const { agent } = hungAgent(60_000, 1, 15); // 15 s interval: the tick would wait up to 10 s
  const firstTick = Math.ceil((Date.now() + 500) / 15_000) * 15_000;
  await Bun.sleep(firstTick - Date.now() + 2000); // the first tick is inside the hung call now
  const started = performance.now();
  const { exitCode } = await agent.stop();
  expect(exitCode).toBe(0);
  expect(performance.now() - started).toBeLessThan(2000);
}, 40_000);
