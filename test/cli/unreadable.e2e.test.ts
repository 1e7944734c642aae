// A GPU that answers who it is but every reading with an error (NVML_ERROR_UNKNOWN)
// is not sampled as a row of NULLs: the compiled agent keeps it as present with no
// sample (its windows say unavailable), stores an event with the codes, logs once,
// and status exits 1 while it lasts; the other GPU is sampled as usual.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compiledBinary, runBinary } from "../helpers/binary.ts";
import { fakeNvmlLibrary, writeScenario } from "../helpers/fakeNvml.ts";

const GROUPS = ["memory", "utilization", "temperature", "fan", "power", "energy", "clock", "pstate", "clock_event_reasons", "ecc", "encoder", "decoder", "pcie", "processes", "remapped_rows", "samples"];

let dir = "";
let env: Record<string, string> = {};
let agent: ReturnType<typeof Bun.spawn> | null = null;
let log = "";
const cli = (...args: string[]) => runBinary([...args, "-c", join(dir, "config.json")], env, dir);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "gpu-monitor-unreadable-"));
  writeFileSync(join(dir, "config.json"), JSON.stringify({ collection: { interval_seconds: 1, aggregation_interval_seconds: 5 }, database: { file: "gm.db" } }));
  const scenario = writeScenario(`gpu0.name = fine\n${GROUPS.map((group) => `gpu1.${group} = !UNKNOWN`).join("\n")}\n`);
  env = { GPU_MONITOR_NVML_LIBRARY: fakeNvmlLibrary("current"), FAKE_NVML_SCENARIO: scenario };
  agent = Bun.spawn([compiledBinary(), "run", "-o", "-c", join(dir, "config.json")], { cwd: dir, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env }, stdout: "pipe", stderr: "pipe" });
  await Bun.sleep(12_500);
}, 30_000);

afterAll(() => agent?.kill("SIGKILL"));

describe("a GPU whose every reading fails", () => {
  test("status exits 1 and names it while it lasts", () => {
    const status = cli("status");
    expect(status.exitCode).toBe(1);
    expect(status.stdout).toMatch(/GPU 1 unreadable since .*no usage metric could be read \(.*NVML_ERROR_UNKNOWN/);
  });

  test("no sample of it is stored; the other GPU's are", () => {
    const groups = JSON.parse(cli("export", "--from", new Date(Date.now() - 60_000).toISOString()).stdout);
    expect(groups.length).toBeGreaterThanOrEqual(10);
    for (const group of groups) expect(group.gpus.map((gpu: any) => gpu.name)).toEqual(["fine"]);
  });

  test("its windows say unavailable: no samples, coverage 0, every second unavailable", () => {
    const windows = JSON.parse(cli("export", "--level", "hourly", "--from", new Date(Date.now() - 60_000).toISOString()).stdout);
    const later = windows.at(-1).gpus; // the GPU was known before this window
    const unreadable = later.find((gpu: any) => gpu.name === null || gpu.name !== "fine");
    expect(unreadable).toMatchObject({ sample_count: 0, coverage: 0, unavailable_seconds: 5, healthy_seconds: 0 });
    expect(later.find((gpu: any) => gpu.name === "fine")).toMatchObject({ sample_count: 5, unavailable_seconds: 0 });
  });

  test("one event with the codes, and one log line, not one per tick", async () => {
    const events = JSON.parse(cli("status", "-f", "json").stdout).events_last_24h.filter((event: any) => event.kind === "gpu_unreadable");
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ gpu_index: 1, detail: expect.stringContaining("utilization NVML_ERROR_UNKNOWN") });
    agent!.kill("SIGTERM");
    await agent!.exited;
    log = await new Response(agent!.stderr as ReadableStream).text();
    expect(log.split("\n").filter((line) => line.includes("no usage metric could be read"))).toHaveLength(1);
  });
});
