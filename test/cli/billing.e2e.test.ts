// The compiled agent on the fake NVML, 1 s samples and 5 s windows: utilization
// and power averaged from the driver's buffers over each interval, energy from
// the counter (and from the power integral on an old driver without one), an
// XID and an ECC error through NVML events, remapped rows and clock-event
// seconds, as `-sc`, `export --level hourly`, `status` and the upload body show them.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compiledBinary, runBinary, runBinaryAsync } from "../helpers/binary.ts";
import { fakeNvmlLibrary, writeScenario, type DriverVariant } from "../helpers/fakeNvml.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

/** Busy the first half of every second, at 100 ms periods; power 400 W then 100 W. */
const HALF_BUSY = [
  "gpu0.name = NVIDIA H100 80GB HBM3",
  "gpu0.samples.period_ms = 100",
  "gpu0.samples.gpu_utilization = 100,100,100,100,100,0,0,0,0,0",
  "gpu0.samples.power = 400000,400000,400000,400000,400000,100000,100000,100000,100000,100000",
  "gpu0.clock_event_reasons = 0x4",
];

const CURRENT = [
  ...HALF_BUSY,
  "gpu0.energy.rate_mw = 250000",
  "gpu0.events.list = xid:79@4500, single_bit_ecc@3000",
  "gpu0.remapped_rows = 2,1,1,0",
  // a GPU whose driver keeps no sample buffer: point readings
  "gpu1.samples = !NOT_SUPPORTED",
  "gpu1.utilization.gpu = 37",
];

/** An old driver: no energy counter, and here no sample buffer either. */
const OLD = ["gpu0.name = Tesla V100-SXM2-16GB", "gpu0.samples = !NOT_SUPPORTED", "gpu0.power.usage = 200000"];

interface Run {
  dir: string;
  env: Record<string, string>;
  cli: (...args: string[]) => { exitCode: number; stdout: string; stderr: string };
  agent: ReturnType<typeof Bun.spawn>;
}

let server: TestServer | null = null;
const runs: Partial<Record<DriverVariant, Run>> = {};

function start(variant: DriverVariant, scenario: string[], serverUrl: string | null): Run {
  const dir = mkdtempSync(join(tmpdir(), `gpu-monitor-billing-${variant}-`));
  const config = join(dir, "config.json");
  writeFileSync(
    config,
    JSON.stringify({
      collection: { interval_seconds: 1, aggregation_interval_seconds: 5 },
      database: { file: "gpu_metrics.db" },
      ...(serverUrl ? { server: { url: serverUrl, contract_number: "C-16", retry_initial_seconds: 1, retry_max_seconds: 2, timeout_seconds: 5 } } : {}),
    }),
  );
  const env = { GPU_MONITOR_NVML_LIBRARY: fakeNvmlLibrary(variant), FAKE_NVML_SCENARIO: writeScenario(`${scenario.join("\n")}\n`) };
  const agent = Bun.spawn([compiledBinary(), "run", "-c", config, ...(serverUrl ? [] : ["-o"])], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  return { dir, env, agent, cli: (...args) => runBinary([...args, "-c", config], env, dir) };
}

beforeAll(async () => {
  server = startServer();
  runs.current = start("current", CURRENT, server.url);
  runs.old = start("old", OLD, null);
  // Two whole windows after the XID: 5 s windows closing at multiples of 5 s.
  await Bun.sleep(13_500);
}, 30_000);

afterAll(() => {
  for (const run of Object.values(runs)) run?.agent.kill("SIGKILL");
  server?.stop();
});

const HOUR = 3600;
const range = () => ["--from", new Date((Date.now() / 1000 - HOUR) * 1000).toISOString(), "--to", new Date((Date.now() / 1000 + HOUR) * 1000).toISOString()];

/** Every stored sample of one GPU, oldest first. */
function samples(run: Run, index: number): any[] {
  const result = run.cli("export", ...range());
  expect(result.exitCode).toBe(0);
  return JSON.parse(result.stdout).flatMap((group: any) => group.gpus.filter((gpu: any) => gpu.pci_bus_id === `00000000:${(0x10 + index).toString(16).toUpperCase()}:00.0`).map((gpu: any) => ({ ...gpu, timestamp: group.timestamp })));
}

/** Every stored window of one GPU, oldest first. */
function windows(run: Run, index: number): any[] {
  const result = run.cli("export", "--level", "hourly", ...range());
  expect(result.exitCode).toBe(0);
  return JSON.parse(result.stdout).flatMap((group: any) => group.gpus.filter((gpu: any) => gpu.pci_bus_id === `00000000:${(0x10 + index).toString(16).toUpperCase()}:00.0`).map((gpu: any) => ({ ...gpu, timestamp: group.timestamp })));
}

describe("usage over the whole interval", () => {
  test("a GPU busy half of every second: each sample is the average of the driver's samples, 50 % ± 5, not the instant's 100 %", () => {
    const stored = samples(runs.current!, 0);
    expect(stored.length).toBeGreaterThanOrEqual(10);
    // the first tick opens NVML: nothing to average yet, so it is a point reading at the start of a second (busy)
    expect(stored[0]).toMatchObject({ utilization_source: "point", utilization_samples: 0, gpu_utilization: 100 });
    for (const sample of stored.slice(1)) {
      expect(sample.utilization_source).toBe("samples");
      expect(sample.utilization_samples).toBeGreaterThanOrEqual(9);
      expect(Math.abs(sample.gpu_utilization - 50)).toBeLessThanOrEqual(5);
      expect(Math.abs(sample.power_usage - 250)).toBeLessThanOrEqual(20); // W: 400 and 100 half the time each
      expect(Math.abs(sample.busy_seconds - 0.5)).toBeLessThanOrEqual(0.1);
    }
  });

  test("a GPU whose driver keeps no buffer is read at the instant, and says so", () => {
    for (const sample of samples(runs.current!, 1)) expect(sample).toMatchObject({ utilization_source: "point", utilization_samples: 0, gpu_utilization: 37, busy_seconds: null });
  });

  test("windows: busy seconds from the driver's samples, the share of averaged samples", () => {
    const full = windows(runs.current!, 0).filter((w) => w.sample_count === 5 && w.averaged_share === 1);
    expect(full.length).toBeGreaterThanOrEqual(1);
    expect(Math.abs(full[0].busy_seconds - 2.5)).toBeLessThanOrEqual(0.5);
    expect(windows(runs.current!, 1).every((w) => w.averaged_share === 0 || w.averaged_share === null)).toBe(true);
  });
});

describe("energy", () => {
  test("a window's energy is the counter's increase over it", () => {
    const stored = samples(runs.current!, 0);
    const closed = windows(runs.current!, 0).filter((w) => w.sample_count > 0);
    expect(closed.length).toBeGreaterThanOrEqual(2);
    for (const window of closed) {
      const start = Date.parse(window.timestamp) / 1000;
      const inside = stored.filter((s) => Date.parse(s.timestamp) / 1000 >= start && Date.parse(s.timestamp) / 1000 < start + 5);
      const before = stored.filter((s) => Date.parse(s.timestamp) / 1000 < start && Date.parse(s.timestamp) / 1000 >= start - 2).at(-1);
      const from = before ?? inside[0];
      expect(window.energy_source).toBe("counter");
      expect(window.energy_consumption).toBe(inside.at(-1).energy_consumption - from.energy_consumption);
    }
  });

  test("an old driver without a counter: the integral of power over the samples, and says so", () => {
    const closed = windows(runs.old!, 0).filter((w) => w.sample_count > 0);
    expect(closed.length).toBeGreaterThanOrEqual(1);
    for (const window of closed) {
      expect(window.energy_source).toBe("power_integral");
      expect(window.energy_consumption).toBe(200_000 * window.sample_count); // 200 W held over each 1 s sample, in mJ
      expect(window.averaged_share).toBe(0);
    }
    for (const sample of samples(runs.old!, 0)) expect(sample.utilization_source).toBe("point");
  });
});

describe("health", () => {
  test("an XID 79 injected through NVML events shows in status, with NVIDIA's description", () => {
    const status = runs.current!.cli("status", "-f", "json");
    const report = JSON.parse(status.stdout);
    const xid = report.events_last_24h.find((event: any) => event.kind === "xid");
    expect(xid).toMatchObject({ gpu_index: 0, code: 79 });
    expect(xid.detail).toContain("XID 79 (GPU has fallen off the bus");
    expect(report.events_last_24h.some((event: any) => event.kind === "single_bit_ecc")).toBe(true);
    expect(report.gpus.map((gpu: any) => gpu.utilization_source)).toEqual(["samples", "point"]);
    const text = runs.current!.cli("status").stdout;
    expect(text).toContain("Utilization:  averaged from driver samples on 1 of 2 GPU(s)");
    expect(text).toMatch(/xid \(GPU 0\): GPU 0: XID 79 \(GPU has fallen off the bus/);
  });

  test("...in its window (export --level hourly and -sc), with the ECC error, remapped rows and clock-event seconds", () => {
    const all = windows(runs.current!, 0);
    const hit = all.filter((w) => w.xid_count > 0);
    expect(hit).toHaveLength(1);
    expect(hit[0].xid_errors).toEqual([{ time: expect.stringMatching(/Z$/), code: 79, description: expect.stringContaining("fallen off the bus") }]);
    expect(all.reduce((sum, w) => sum + (w.ecc_errors_corrected_delta ?? 0), 0)).toBe(1);
    const full = all.find((w) => w.sample_count === 5)!;
    expect(full).toMatchObject({ remapped_rows_correctable: 2, remapped_rows_uncorrectable: 1, remapped_rows_pending: true, remapped_rows_failure: false });
    expect(full.clock_event_seconds).toMatchObject({ sw_power_cap: 5, gpu_idle: 0 });
    expect(full.unavailable_seconds).toBe(0);
    expect(hit[0].healthy_seconds).toBe(hit[0].sample_count - 1);
    const sc = runs.current!.cli("-sc", hit[0].timestamp);
    expect(sc.exitCode).toBe(0);
    const scGpu = JSON.parse(sc.stdout)[0].gpus.find((gpu: any) => gpu.uid === hit[0].uid);
    expect(scGpu.xid_count).toBe(1);
    expect(scGpu.xid_errors[0].code).toBe(79);
    const csv = runs.current!.cli("export", "--level", "hourly", "--format", "csv", ...range()).stdout;
    expect(csv.split("\n")[0]).toContain(",xid_count,xid_errors,");
    expect(csv).toContain('""code"":79');
  });

  test("...and in the upload body", () => {
    const bodies = server!.received.map((upload) => upload.body);
    const gpu = bodies.flatMap((body) => body.gpus).find((g: any) => g.xid_count > 0);
    expect(gpu).toBeDefined();
    expect(gpu.xid_errors[0]).toMatchObject({ code: 79 });
    expect(gpu).toHaveProperty("busy_seconds");
    expect(gpu).toHaveProperty("energy_source", "counter");
    expect(gpu).toHaveProperty("clock_event_seconds");
    expect(gpu.remapped_rows_pending).toBe(true);
  });

  test("snapshot shows the remapped rows and the current clock-event reasons", async () => {
    const snapshot = await runBinaryAsync(["snapshot", "-f", "json"], runs.current!.env, runs.current!.dir);
    const gpu = JSON.parse(snapshot.stdout).gpus[0];
    expect(gpu).toMatchObject({ remapped_rows_correctable: 2, remapped_rows_pending: true, clock_event_reason_names: ["sw_power_cap"] });
  });
});
