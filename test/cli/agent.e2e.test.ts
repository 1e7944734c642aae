// The compiled binary as an agent: `run` against the fake NVML with 1 s samples
// and 5 s windows, then the query commands on what it stored.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compiledBinary, runBinary } from "../helpers/binary.ts";
import { fakeNvmlLibrary, scenarioFile, writeScenario } from "../helpers/fakeNvml.ts";

const ORIGINAL_COLUMNS =
  "timestamp,uid,pci_bus_id,name,temperature,memory_used,memory_total,gpu_utilization,memory_utilization,power_usage,fan_speed,graphics_clock,memory_clock";

let dir = "";
/** Written by the fake each time NVML is asked for the CUDA version (the real one loads libcuda then). */
let cudaMarker = "";
let env: Record<string, string> = {};
let agent: ReturnType<typeof Bun.spawn> | null = null;
let stderr = "";
let exit: { code: number; stopMs: number } | null = null;

const cli = (...args: string[]) => runBinary(["-c", join(dir, "config.json"), ...args], env, dir);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "gpu-monitor-agent-"));
  writeFileSync(
    join(dir, "config.json"),
    JSON.stringify({
      collection: { interval_seconds: 1, aggregation_interval_seconds: 5 },
      database: { file: "state/gpu_metrics.db" },
      logging: { level: "debug" },
    }),
  );
  cudaMarker = join(dir, "cuda-version-asked");
  const scenario = writeScenario(`${readFileSync(scenarioFile("eight_gpus"), "utf8")}\ncuda_driver_version_marker = ${cudaMarker}\n`);
  env = { GPU_MONITOR_NVML_LIBRARY: fakeNvmlLibrary("current"), FAKE_NVML_SCENARIO: scenario };
  agent = Bun.spawn([compiledBinary(), "run", "-c", join(dir, "config.json")], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  // Two whole windows and a bit: 5 s windows closing at multiples of 5 s.
  await Bun.sleep(12_500);
}, 30_000);

afterAll(() => agent?.kill("SIGKILL"));

describe("while the agent runs", () => {
  test("a second agent on the same database is refused, naming the running one's pid", () => {
    const second = runBinary(["run", "-c", join(dir, "config.json")], env, dir);
    expect(second.exitCode).toBe(1);
    expect(second.stderr).toContain(`another gpu_monitor agent (pid ${agent!.pid}) is already running`);
  });

  test("the agent never asks NVML for the CUDA version, which would load libcuda into it; snapshot does", () => {
    // Twelve ticks of eight GPUs with processes (whose _v3 layout depends on the driver version) have run.
    expect(existsSync(cudaMarker)).toBe(false);
    const snapshot = runBinary(["snapshot", "-f", "json"], env, dir);
    expect(snapshot.exitCode).toBe(0);
    expect(JSON.parse(snapshot.stdout).host.cuda_driver_version).toBe("12.4");
    expect(readFileSync(cudaMarker, "utf8")).toContain("nvmlSystemGetCudaDriverVersion");
  });

  test("-sc with an empty TIME shows the current window's raw samples, read while the agent writes", () => {
    const run = cli("-sc", "");
    expect(run.exitCode).toBe(0);
    const groups = JSON.parse(run.stdout);
    expect(groups.length).toBeGreaterThanOrEqual(1);
    expect(Object.keys(groups[0])).toEqual(["timestamp", "gpus"]);
    expect(groups[0].gpus).toHaveLength(8);
    expect(Object.keys(groups[0].gpus[0]).slice(0, 12)).toEqual(ORIGINAL_COLUMNS.split(",").slice(1));
    expect(groups[0].gpus[0]).toMatchObject({ uid: "GPU-a1b2c3d4-0001-4e5f-8a9b-0c1d2e3f4a51", power_usage: 612.34 });
  });

  test("SIGTERM: the agent finishes its tick and exits 0 within 2 s", async () => {
    const started = performance.now();
    agent!.kill("SIGTERM");
    const code = await agent!.exited;
    exit = { code, stopMs: performance.now() - started };
    stderr = await new Response(agent!.stderr as ReadableStream).text();
    expect(exit.code).toBe(0);
    expect(exit.stopMs).toBeLessThan(2000);
    expect(stderr).toContain("SIGTERM received");
    expect(stderr).toContain("agent: stopped");
    expect(stderr).not.toContain("ERROR");
  });
});

describe("after it stopped", () => {
  test("-sc on a window start shows that window's aggregate", () => {
    const windows = JSON.parse(cli("export", "--from", "2020-01-01", "--level", "hourly").stdout);
    expect(windows.length).toBeGreaterThanOrEqual(2);
    const full = windows.find((w: { gpus: Array<{ coverage: number }> }) => w.gpus[0]!.coverage === 1);
    expect(full).toBeDefined();
    const run = cli("-sc", full.timestamp);
    expect(run.exitCode).toBe(0);
    const [group] = JSON.parse(run.stdout);
    expect(group.timestamp).toBe(full.timestamp);
    expect(group.period_seconds).toBe(5);
    expect(group.gpus).toHaveLength(8);
    expect(group.gpus[0]).toMatchObject({
      uid: "GPU-a1b2c3d4-0001-4e5f-8a9b-0c1d2e3f4a51",
      temperature: 41,
      temperature_min: 41,
      temperature_max: 41,
      power_usage: 612.34,
      sample_count: 5,
      coverage: 1,
    });
  });

  test("-sc TIME -f csv: the original CSV columns first, one row per GPU", () => {
    // The first sample: its minute's rows start with it (or, on a window start, its aggregate does).
    const first = JSON.parse(cli("export", "--from", "2020-01-01").stdout)[0].timestamp;
    const run = cli("-sc", first, "-f", "csv");
    expect(run.exitCode).toBe(0);
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines[0]!.startsWith(`${ORIGINAL_COLUMNS},`)).toBe(true);
    expect(lines.length).toBeGreaterThanOrEqual(9);
    expect(lines[1]!.startsWith(`${first},GPU-a1b2c3d4-0001-4e5f-8a9b-0c1d2e3f4a51,00000000:18:00.0,NVIDIA H100 80GB HBM3,41,`)).toBe(true);
  });

  test("export streams raw samples and aggregates in both formats", () => {
    const raw = JSON.parse(cli("export", "--from", "2020-01-01").stdout);
    expect(raw.length).toBeGreaterThanOrEqual(10);
    const times = raw.map((g: { timestamp: string }) => Date.parse(g.timestamp) / 1000);
    expect(times.every((t: number, i: number) => i === 0 || t === times[i - 1] + 1)).toBe(true); // one per second, none missing
    const csv = cli("export", "--from", "2020-01-01", "--level", "hourly", "--format", "csv").stdout.trimEnd().split("\n");
    expect(csv[0]).toContain("sample_count,coverage,energy_consumption");
    expect((csv.length - 1) % 8).toBe(0);
  });

  test("no data is a normal result that says what was searched", () => {
    const run = cli("-sc", "2001-01-01 10:00");
    expect(run.exitCode).toBe(0);
    expect(run.stdout.trim()).toBe("[]");
    expect(run.stderr).toContain("No data for 2001-01-01 10:00: searched raw samples from 2001-01-01T10:00:00");
  });

  test("a bad TIME is a usage error with an example", () => {
    const run = cli("-sc", "last tuesday");
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('use "2024-03-20T14:30:00"');
  });
});

describe("a corrupt database", () => {
  test("the agent and the queries exit 1, name the file, and leave it as it was", () => {
    const bad = mkdtempSync(join(tmpdir(), "corrupt-"));
    writeFileSync(join(bad, "config.json"), JSON.stringify({ database: { file: "gpu_metrics.db" } }));
    writeFileSync(join(bad, "gpu_metrics.db"), "garbage ".repeat(1000));
    const query = runBinary(["-c", join(bad, "config.json"), "-sc", ""], env, bad);
    expect(query.exitCode).toBe(1);
    expect(query.stderr).toContain(`database ${join(bad, "gpu_metrics.db")} is corrupt`);
    const start = runBinary(["run", "-c", join(bad, "config.json")], env, bad);
    expect(start.exitCode).toBe(1);
    expect(start.stderr).toContain("move it aside");
    expect(Bun.file(join(bad, "gpu_metrics.db")).size).toBe(8000);
  });
});
