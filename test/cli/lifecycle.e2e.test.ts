// The driver's lifecycle under the compiled agent: not loaded at start then
// loaded, and a GPU lost then back. Each is logged once and kept in the events table.

import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnAgent } from "../helpers/binary.ts";
import { fakeNvmlLibrary, scenarioFile } from "../helpers/fakeNvml.ts";
import { storedSamples } from "../helpers/samples.ts";

function agentWith(initialScenario: string) {
  const dir = mkdtempSync(join(tmpdir(), "gpu-monitor-lifecycle-"));
  const scenario = join(dir, "scenario.conf");
  writeFileSync(scenario, initialScenario);
  const config = join(dir, "config.json");
  writeFileSync(config, JSON.stringify({ collection: { interval_seconds: 1 }, database: { file: "g.db" }, logging: { file: "" } }));
  const agent = spawnAgent(
    ["run", "-c", config],
    { GPU_MONITOR_NVML_LIBRARY: fakeNvmlLibrary("current"), FAKE_NVML_SCENARIO: scenario },
    dir,
  );
  const stop = async () => {
    const { exitCode, log } = await agent.stop();
    expect(exitCode).toBe(0);
    return log;
  };
  const query = <T>(sql: string) => {
    const db = new Database(join(dir, "g.db"), { readonly: true });
    try {
      return db.query(sql).all() as T[];
    } finally {
      db.close();
    }
  };
  return { scenario, stop, query, dbFile: join(dir, "g.db") };
}

test("the driver not loaded at start: the agent waits, logs it once, and samples when it appears", async () => {
  const { scenario, stop, query, dbFile } = agentWith("init = !DRIVER_NOT_LOADED\n");
  await Bun.sleep(3500);
  writeFileSync(scenario, readFileSync(scenarioFile("h100"), "utf8"));
  await Bun.sleep(3000);
  const log = await stop();
  expect(log.match(/the NVIDIA driver is not loaded/g)).toHaveLength(1);
  expect(log).toContain("NVML ready:");
  expect(storedSamples(dbFile).length).toBeGreaterThanOrEqual(2);
  expect(query<{ kind: string }>("SELECT kind FROM events ORDER BY id").map((e) => e.kind)).toEqual(["nvml_unavailable", "nvml_ready"]);
}, 20_000);

test("a GPU lost and back: the others go on, the event is logged and stored with its UUID, and it is sampled again", async () => {
  const twoGpus = (lost: number) =>
    `reload_on_change = 1\n# lost = ${lost}\ngpu0.name = NVIDIA A100-SXM4-80GB\ngpu0.uuid = GPU-aaaa\ngpu1.name = NVIDIA A100-SXM4-80GB\ngpu1.uuid = GPU-bbbb\ngpu1.lost = ${lost}\n`;
  const { scenario, stop, query, dbFile } = agentWith(twoGpus(0));
  await Bun.sleep(2500);
  writeFileSync(scenario, twoGpus(1));
  await Bun.sleep(3500);
  writeFileSync(scenario, twoGpus(0) + "# the GPU came back after a reset\n");
  await Bun.sleep(3000);
  const log = await stop();
  expect(log.match(/GPU 1: the GPU has fallen off the bus/g)).toHaveLength(1);
  expect(log).toContain("GPU 1 is readable again");
  const perGpu = ["GPU-aaaa", "GPU-bbbb"]
    .map((uid) => ({ uid, n: storedSamples(dbFile).filter((row) => row.uid === uid).length }))
    .filter((gpu) => gpu.n > 0);
  expect(perGpu.map((row) => row.uid)).toEqual(["GPU-aaaa", "GPU-bbbb"]);
  expect(perGpu[0]!.n).toBeGreaterThan(perGpu[1]!.n); // GPU 0 all along, GPU 1 only once it was back
  expect(perGpu[1]!.n).toBeGreaterThanOrEqual(2);
  const events = query<{ kind: string; gpu_index: number | null }>("SELECT kind, gpu_index FROM events ORDER BY id");
  expect(events).toEqual([
    { kind: "nvml_ready", gpu_index: null },
    { kind: "gpu_lost", gpu_index: 1 }, // NVML_ERROR_GPU_IS_LOST: the event says lost, with code 15
    { kind: "gpu_unavailable", gpu_index: null }, // the event set's wait answered GPU_IS_LOST too; it names no GPU
    { kind: "gpu_recovered", gpu_index: 1 },
  ]);
  expect(query<{ code: number | null }>("SELECT code FROM events WHERE kind = 'gpu_lost'")).toEqual([{ code: 15 }]);
  // A lost GPU cannot tell its UUID any more: the event names the one it had.
  expect(query<{ gpu_uuid: string | null }>("SELECT gpu_uuid FROM events WHERE kind IN ('gpu_lost', 'gpu_recovered') ORDER BY id")).toEqual([
    { gpu_uuid: "GPU-bbbb" },
    { gpu_uuid: "GPU-bbbb" },
  ]);
}, 25_000);
