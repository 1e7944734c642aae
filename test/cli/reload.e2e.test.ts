// SIGHUP under the compiled agent: a good config is taken, a bad one is reported
// and the running one kept; the log file gets what the console gets.

import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runBinary, spawnAgent } from "../helpers/binary.ts";
import { fakeNvmlLibrary, scenarioFile } from "../helpers/fakeNvml.ts";

test("SIGHUP reloads a good config, keeps the running one over a bad one, and logs to the file", async () => {
  const dir = mkdtempSync(join(tmpdir(), "gpu-monitor-reload-"));
  const configPath = join(dir, "config.json");
  const config = (windowSeconds: number) => ({
    collection: { interval_seconds: 1, aggregation_interval_seconds: windowSeconds },
    database: { file: "gpu_metrics.db" },
    logging: { file: "logs/agent.log", level: "info" },
  });
  writeFileSync(configPath, JSON.stringify(config(5)));
  const env = { GPU_MONITOR_NVML_LIBRARY: fakeNvmlLibrary("current"), FAKE_NVML_SCENARIO: scenarioFile("h100") };
  const agent = spawnAgent(["run", "-c", configPath], env, dir);
  const waitFor = (text: string) => agent.waitFor(text);

  expect(await waitFor("windows of 5 s")).toBe(true);
  await Bun.sleep(1500);
  writeFileSync(configPath, JSON.stringify(config(10)));
  agent.process.kill("SIGHUP");
  expect(await waitFor("SIGHUP: config reloaded")).toBe(true);
  expect(await waitFor("windows of 10 s")).toBe(true);

  writeFileSync(configPath, '{ "collection": { "interval_seconds": "often" } }');
  agent.process.kill("SIGHUP");
  expect(await waitFor("SIGHUP: config not reloaded, the running one is kept")).toBe(true);
  expect(agent.log()).toContain("collection.interval_seconds: expected a whole number of seconds");
  await Bun.sleep(2500);
  expect(agent.process.exitCode).toBeNull(); // still running, still sampling
  writeFileSync(join(dir, "ok.json"), JSON.stringify(config(10)));
  const status = JSON.parse(runBinary(["status", "-f", "json", "-c", join(dir, "ok.json")], env, dir).stdout);
  expect(status.agent).toEqual({ running: true, pid: agent.process.pid });
  expect(Date.now() / 1000 - Date.parse(status.last_sample) / 1000).toBeLessThan(3);

  expect((await agent.stop()).exitCode).toBe(0);
  const logFile = readFileSync(join(dir, "logs", "agent.log"), "utf8");
  expect(logFile).toContain("SIGHUP: config reloaded");
  expect(logFile).toContain("agent: stopped");
  expect(logFile).not.toContain("\x1b["); // never colour in the file
}, 40_000);
