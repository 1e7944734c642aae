// The compiled agent on a fake host with an H100 in MIG mode (three MIG devices,
// GPM per GPU instance) and an A100 without MIG or GPM, 1 s samples and 5 s
// windows: each MIG device is a device of its own naming its GPU and profile in
// `snapshot`, `-sc`, `export --level hourly`, the upload body and /metrics
// (GPU_I_ID, GPU_I_PROFILE, DCGM_FI_PROF_*), with its memory, processes and GPM activity
// averaged; the layout is changed while the agent runs and the change is picked
// up; the A100 reads as any GPU did before.

import { ProcessOwners } from "../../src/collect/processOwners.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compiledBinary, runBinary, runBinaryAsync } from "../helpers/binary.ts";
import { fakeNvmlLibrary, scenarioFile, writeScenario } from "../helpers/fakeNvml.ts";
import { freePort, startServer, type TestServer } from "../helpers/server.ts";
import { EXPORTED_NAMES } from "../../src/prometheus/exposition.ts";

const H100 = "GPU-9c1f6e2a-3b47-4d85-b2e9-7a0c5d18f364";
const A100 = "GPU-2b7d4c1e-8f3a-4e6b-9c5d-0a1b2c3d4e5f";
const TRAINING = "MIG-4a1e8f3c-5b2d-5e6f-9a7b-1c2d3e4f5a6b"; // 3g.40gb, GI 2
const INFERENCE = "MIG-7b2c9d4e-6f3a-5b1c-8d2e-3f4a5b6c7d8e"; // 1g.10gb, GI 9
const IDLE = "MIG-9d3e1f5a-7b4c-5d2e-9f3a-4b5c6d7e8f9a"; // 1g.10gb, GI 10, destroyed while the agent runs
const REPLACEMENT = "MIG-c0ffee00-1111-5222-8333-444455556666"; // 2g.20gb, GI 11, made in its place

const LAYOUT = readFileSync(scenarioFile("h100_mig"), "utf8");
/** The 1g.10gb on GI 10 destroyed and a 2g.20gb on GI 11 made at its index. */
const CHANGED_LAYOUT = LAYOUT.replace(/^gpu0\.mig2\..*$/gm, "").concat(
  [
    `gpu0.mig2.uuid = ${REPLACEMENT}`,
    "gpu0.mig2.profile = 2g.20gb",
    "gpu0.mig2.gi = 11",
    "gpu0.mig2.memory.total = 21474836480",
    "gpu0.mig2.memory.used = 3221225472",
    "gpu0.mig2.gpm.sm_util = 44",
    "gpu0.mig2.gpm.graphics_util = 50",
    "",
  ].join("\n"),
);

let dir = "";
let env: Record<string, string> = {};
let scenario = "";
let agent: ReturnType<typeof Bun.spawn> | null = null;
let server: TestServer | null = null;
let metricsUrl = "";
/** The /metrics page before the layout change, and the time (s) the change was written. */
let pageBefore = "";
let changedAt = 0;

const cli = (...args: string[]) => runBinary([...args, "-c", join(dir, "config.json")], env, dir);

async function page(): Promise<string> {
  return (await fetch(`${metricsUrl}/metrics`)).text();
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const holds = async () => {
    try {
      return await check();
    } catch {
      return false;
    }
  };
  while (!(await holds())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(200);
  }
}

const HOUR = 3600;
const range = () => ["--from", new Date((Date.now() / 1000 - HOUR) * 1000).toISOString(), "--to", new Date((Date.now() / 1000 + HOUR) * 1000).toISOString()];

/** Every stored window (or raw sample) of one device by uid, oldest first, with its group's timestamp. */
function records(uid: string, level: "hourly" | "raw"): any[] {
  const result = cli("export", "--level", level, ...range());
  if (result.exitCode !== 0) throw new Error(`export failed: ${result.stderr}`);
  return JSON.parse(result.stdout).flatMap((group: any) => group.gpus.filter((gpu: any) => gpu.uid === uid).map((gpu: any) => ({ ...gpu, timestamp: group.timestamp })));
}

const fullWindows = (uid: string) => records(uid, "hourly").filter((window) => window.sample_count === 5);

/** The raw samples of one device in the 5 s window starting at `start`. */
function samplesIn(uid: string, start: string): any[] {
  const from = Date.parse(start);
  return records(uid, "raw").filter((sample) => Date.parse(sample.timestamp) >= from && Date.parse(sample.timestamp) < from + 5000);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "gpu-monitor-mig-"));
  server = startServer();
  const port = freePort();
  metricsUrl = `http://127.0.0.1:${port}`;
  writeFileSync(
    join(dir, "config.json"),
    JSON.stringify({
      collection: { interval_seconds: 1, aggregation_interval_seconds: 5 },
      database: { file: "gpu_metrics.db" },
      server: { url: server.url, contract_number: "C-20", retry_initial_seconds: 1, retry_max_seconds: 2, timeout_seconds: 5 },
      metrics: { listen: `127.0.0.1:${port}` },
    }),
  );
  scenario = writeScenario(LAYOUT);
  env = { GPU_MONITOR_NVML_LIBRARY: fakeNvmlLibrary("current"), FAKE_NVML_SCENARIO: scenario };
  agent = Bun.spawn([compiledBinary(), "run", "-c", join(dir, "config.json")], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    stdout: "ignore",
    stderr: "pipe",
  });
  // A whole window with the first layout, and GPM on /metrics (from the second tick on).
  await until("a whole window of the first layout", () => fullWindows(IDLE).length > 0 && fullWindows(TRAINING).some((w) => w.sm_activity !== null), 20_000);
  await until("GPM on /metrics", async () => (pageBefore = await page()).includes("DCGM_FI_PROF_SM_ACTIVE"), 5_000);
  // The layout changes under the running agent: the fake re-reads its scenario when the file changes.
  writeFileSync(scenario, CHANGED_LAYOUT);
  changedAt = Date.now() / 1000;
  await until("the new layout on /metrics", async () => (await page()).includes('GPU_I_ID="11"'), 10_000);
  await until("a whole window of the new layout", () => fullWindows(REPLACEMENT).some((w) => w.sm_activity !== null), 15_000);
  await until("its upload", () => server!.received.some((upload) => upload.body.gpus.some((gpu: any) => gpu.uid === REPLACEMENT)), 10_000);
}, 70_000);

afterAll(() => {
  agent?.kill("SIGKILL");
  server?.stop();
});

describe("snapshot", () => {
  test("JSON: the MIG devices under their GPU as mig_devices, each naming its GPU, profile and instances, with memory and processes", async () => {
    const snapshot = await runBinaryAsync(["snapshot", "-f", "json"], env, dir);
    expect(snapshot.exitCode).toBe(0);
    const [h100, a100] = JSON.parse(snapshot.stdout).gpus;
    expect(h100).toMatchObject({ uid: H100, mig_mode: true, gpu_utilization: null, parent_uid: null });
    expect(h100.mig_devices.map((device: any) => [device.uid, device.parent_uid, device.mig_profile, device.gpu_instance_id, device.compute_instance_id])).toEqual([
      [TRAINING, H100, "3g.40gb", 2, 0],
      [INFERENCE, H100, "1g.10gb", 9, 0],
      [REPLACEMENT, H100, "2g.20gb", 11, 0],
    ]);
    const training = h100.mig_devices[0];
    expect(training).toMatchObject({ memory_used: 21474836480, memory_total: 42949672960, name: "NVIDIA H100 80GB HBM3 MIG 3g.40gb" });
    // Who owns the made-up pid is what /proc says here (almost always: no such process); NVML has no per-process utilization on MIG.
    const owner = new ProcessOwners().owner(4242);
    expect(training.processes).toEqual([
      {
        pid: 4242,
        type: "compute",
        name: expect.any(String),
        used_memory: 21474836480,
        gpu_instance_id: 2,
        compute_instance_id: 0,
        user: owner.user,
        uid: owner.uid,
        container_id: owner.containerId,
        pod_uid: owner.podUid,
        note: owner.note,
        sm_utilization: null,
        memory_utilization: null,
        encoder_utilization: null,
        decoder_utilization: null,
      },
    ]);
    // A one-off snapshot measures GPM over a short span of its own.
    expect([training.sm_activity, training.graphics_activity, h100.sm_activity]).toEqual([71.5, 90, 35.5]);
    // The A100: no MIG, no GPM, read as before.
    expect(a100).toMatchObject({ uid: A100, mig_mode: null, gpu_utilization: 40, sm_activity: null, parent_uid: null });
    expect(a100).not.toHaveProperty("mig_devices");
  });

  test("table: the MIG devices as indented rows under their GPU, GPM activity in the GPU column", async () => {
    const table = (await runBinaryAsync(["snapshot"], env, dir)).stdout;
    const lines = table.split("\n");
    const h100 = lines.findIndex((line) => /^\s+0\s+NVIDIA H100 80GB HBM3\s/.test(line));
    expect(h100).toBeGreaterThan(0);
    expect(lines[h100]).toContain(" 60% ");
    expect(lines[h100 + 1]).toMatch(/^\s+└ MIG 3g\.40gb GI 2 CI 0\s+MIG-4a1e8f3c\S+\s+20480MiB \/ 40960MiB\s+90%\s+33%/);
    expect(lines[h100 + 2]).toMatch(/└ MIG 1g\.10gb GI 9 CI 0/);
    expect(lines[h100 + 3]).toMatch(/└ MIG 2g\.20gb GI 11 CI 0/);
    expect(lines[h100 + 4]).toMatch(/^\s+1\s+NVIDIA A100-SXM4-80GB\s.*\s40%\s+10%\s/);
    expect(table).toMatch(/^0\/2\.0\s+4242\s+C\s+\S+\s+20480MiB\s+N\/A\s+\S/m); // then the SM share (none on MIG) and the user
  });
});

describe("windows", () => {
  test("export --level hourly: one entry per MIG device naming its GPU, memory and GPM activity averaged, busy seconds from graphics activity", () => {
    const [training] = fullWindows(TRAINING);
    expect(training).toMatchObject({
      parent_uid: H100,
      mig_profile: "3g.40gb",
      gpu_instance_id: 2,
      compute_instance_id: 0,
      memory_used: 21474836480,
      memory_total: 42949672960,
      gpu_utilization: null,
      temperature: null,
      power_usage: null,
    });
    const withGpm = fullWindows(TRAINING).find((w) => w.sm_activity_min !== null)!;
    expect(withGpm).toMatchObject({ sm_activity: 71.5, sm_activity_min: 71.5, sm_activity_max: 71.5, sm_occupancy: 40.5, tensor_activity: 25, dram_activity: 33.25, graphics_activity: 90 });
    // a second for each sample with graphics activity (the first tick after start has none)
    expect(withGpm.busy_seconds).toBe(samplesIn(TRAINING, withGpm.timestamp).filter((sample) => sample.graphics_activity > 0).length);
    expect(withGpm.busy_seconds).toBeGreaterThanOrEqual(4);
    const [idle] = fullWindows(IDLE);
    expect(idle).toMatchObject({ parent_uid: H100, mig_profile: "1g.10gb", gpu_instance_id: 10, memory_used: 0 });
    expect(fullWindows(IDLE).find((w) => w.graphics_activity !== null)).toMatchObject({ graphics_activity: 0, busy_seconds: 0 });
    // The GPU keeps its own entry: temperature, power and energy are the parent's.
    const [h100] = fullWindows(H100);
    expect(h100).toMatchObject({ parent_uid: null, mig_profile: null, temperature: 48, power_usage: 312, gpu_utilization: null });
    expect(fullWindows(H100).some((w) => w.graphics_activity === 60 && w.busy_seconds >= 4)).toBe(true);
  });

  test("each MIG device's window names the processes that ran on it, as a GPU's does", () => {
    const training = fullWindows(TRAINING).at(-1)!;
    expect(training.processes).toEqual([
      // The name is /proc's when a real process happens to hold the made-up pid 4242 (seen: a thread of another program), else NVML's.
      expect.objectContaining({ pid: 4242, name: expect.any(String), gpu_seconds: training.sample_count, memory_max: 21474836480 }),
    ]);
    expect(fullWindows(INFERENCE).at(-1)!.processes.map((process: any) => process.pid)).toEqual([5151]);
    expect(fullWindows(IDLE)[0].processes).toEqual([]);
  });

  test("the first tick after start has no GPM activity: never a value over a span it did not cover", () => {
    const [first] = records(TRAINING, "raw");
    expect(first).toMatchObject({ memory_used: 21474836480, sm_activity: null, graphics_activity: null });
    expect(records(TRAINING, "raw").slice(1, 4).map((sample) => sample.sm_activity)).toEqual([71.5, 71.5, 71.5]);
  });

  test("-sc of a window shows its MIG devices beside the GPUs", () => {
    const window = fullWindows(TRAINING).at(-1)!;
    const sc = cli("-sc", window.timestamp);
    expect(sc.exitCode).toBe(0);
    const uids = JSON.parse(sc.stdout)[0].gpus.map((gpu: any) => [gpu.uid, gpu.parent_uid]);
    expect(uids).toEqual(expect.arrayContaining([[H100, null], [A100, null], [TRAINING, H100], [INFERENCE, H100]]));
  });

  test("the A100 without GPM is unchanged: its utilization and busy seconds as before, GPM fields null", () => {
    const [a100] = fullWindows(A100);
    expect(a100).toMatchObject({ gpu_utilization: 40, busy_seconds: 5, sm_activity: null, graphics_activity: null, parent_uid: null, mig_profile: null });
  });

  test("the layout change is picked up without a restart: the destroyed device's windows stop, the new one's start", () => {
    const idleEnds = Math.max(...records(IDLE, "raw").map((sample) => Date.parse(sample.timestamp) / 1000));
    const replacementStarts = Math.min(...records(REPLACEMENT, "raw").map((sample) => Date.parse(sample.timestamp) / 1000));
    expect(idleEnds).toBeLessThan(changedAt + 3);
    expect(replacementStarts).toBeGreaterThan(changedAt - 1);
    expect(replacementStarts).toBeLessThan(changedAt + 4);
    const replacement = fullWindows(REPLACEMENT).find((w) => w.sm_activity !== null)!;
    expect(replacement).toMatchObject({ parent_uid: H100, mig_profile: "2g.20gb", gpu_instance_id: 11, memory_used: 3221225472, sm_activity: 44, graphics_activity: 50 });
    // The devices that stayed go on without a gap.
    expect(records(TRAINING, "raw").filter((sample) => Date.parse(sample.timestamp) / 1000 > changedAt).length).toBeGreaterThanOrEqual(5);
    // The destroyed device is in no window after its last sample: gone, not an outage of a day.
    const windowsAfter = records(IDLE, "hourly").filter((w) => Date.parse(w.timestamp) / 1000 > idleEnds);
    expect(windowsAfter).toEqual([]);
    expect(records(IDLE, "hourly").every((w) => w.sample_count > 0)).toBe(true);
  });
});

describe("status", () => {
  test("counts GPUs as GPUs and the MIG devices of the current layout apart, each naming its GPU in JSON", () => {
    const text = cli("status").stdout;
    // three: the destroyed 1g.10gb (GI 10) is no device any more
    expect(text).toContain("GPUs seen:    2 (NVIDIA H100 80GB HBM3, NVIDIA A100-SXM4-80GB), and 3 MIG device(s) of them\n");
    expect(text).toContain("Utilization:  averaged from driver samples on 1 of 2 GPU(s)");
    const report = JSON.parse(cli("status", "-f", "json").stdout);
    expect(report.gpus.find((gpu: any) => gpu.uid === REPLACEMENT).parent_uid).toBe(H100);
    expect(report.gpus.find((gpu: any) => gpu.uid === A100).parent_uid).toBeNull();
    expect(report.gpus.map((gpu: any) => gpu.uid).sort()).toEqual([H100, A100, TRAINING, INFERENCE, REPLACEMENT].sort());
  });
});

describe("usage", () => {
  test("usage --by gpu: each MIG device a row of its own under its GPU, its usage from GPM; the total counts each GPU once", () => {
    const result = cli("usage", "--from", range()[1]!, "--by", "gpu", "-f", "json");
    expect(result.exitCode).toBe(0);
    const document = JSON.parse(result.stdout);
    const rows = document.rows.map((row: any) => [row.gpu, row.parent_gpu]);
    const h100At = rows.findIndex(([gpu]: string[]) => gpu === H100);
    // the GPU, then its MIG devices (by their GPU-hours)
    expect(rows[h100At]).toEqual([H100, null]);
    const under = rows.slice(h100At + 1, h100At + 5);
    expect(under.map(([gpu]: string[]) => gpu).sort()).toEqual([TRAINING, INFERENCE, IDLE, REPLACEMENT].sort());
    expect(under.every(([, parent]: string[]) => parent === H100)).toBe(true);
    const training = document.rows.find((row: any) => row.gpu === TRAINING);
    expect(training).toMatchObject({ name: "MIG 3g.40gb", utilization_avg: 90 });
    const gpusOnly = document.rows.filter((row: any) => row.parent_gpu === null);
    expect(document.total.gpu_seconds).toBe(gpusOnly.reduce((sum: number, row: any) => sum + row.gpu_seconds, 0));
  });
});

describe("usage by who", () => {
  test("a GPU in MIG mode lists its MIG devices' processes (as real NVML does): usage counts them on the MIG devices only, never twice", () => {
    // Windows ending well before now are all closed: both commands read the same ones.
    const span = ["--from", range()[1]!, "--to", new Date(Date.now() - 10_000).toISOString()];
    const exported = cli("export", "--level", "hourly", ...span);
    expect(exported.exitCode).toBe(0);
    const windows = JSON.parse(exported.stdout).flatMap((group: any) => group.gpus);
    // The GPU's own window names no process: they are its MIG devices'.
    expect(windows.filter((w: any) => w.uid === H100).flatMap((w: any) => w.processes ?? [])).toEqual([]);
    const onSlices = windows.filter((w: any) => w.parent_uid === H100).flatMap((w: any) => w.processes ?? []);
    const secondsOf = (pid: number) => onSlices.filter((p: any) => p.pid === pid).reduce((sum: number, p: any) => sum + p.gpu_seconds, 0);
    expect(secondsOf(4242)).toBeGreaterThan(0);
    const byProcess = JSON.parse(cli("usage", ...span, "--by", "process", "-f", "json").stdout);
    expect(byProcess.rows.map((row: any) => [row.pid, row.gpu_seconds]).sort()).toEqual([
      [4242, secondsOf(4242)],
      [5151, secondsOf(5151)],
    ]);
    const byUser = JSON.parse(cli("usage", ...span, "--by", "user", "-f", "json").stdout);
    const userSeconds = windows.filter((w: any) => w.parent_uid === H100).flatMap((w: any) => w.users ?? []).reduce((sum: number, u: any) => sum + u.gpu_seconds, 0);
    expect(byUser.total.gpu_seconds).toBe(userSeconds);
  });
});

describe("upload and /metrics", () => {
  test("the upload body has one entry per MIG device with its GPU, profile, memory and GPM activity", () => {
    const bodies = server!.received.map((upload) => upload.body);
    const entries = bodies.flatMap((body) => body.gpus);
    const training = entries.find((gpu: any) => gpu.uid === TRAINING && gpu.sample_count === 5 && gpu.sm_activity !== null);
    expect(training).toMatchObject({ parent_uid: H100, mig_profile: "3g.40gb", gpu_instance_id: 2, memory_used: 21474836480, sm_activity: 71.5, graphics_activity: 90 });
    // the same figures as the stored window
    const sentAt = bodies.find((b) => b.gpus.includes(training))!.aggregation_time;
    const stored = records(TRAINING, "hourly").find((w) => Date.parse(w.timestamp) === Date.parse(sentAt))!;
    expect([training.busy_seconds, training.sm_activity_min, training.memory_used_max]).toEqual([stored.busy_seconds, stored.sm_activity_min, stored.memory_used_max]);
    const body = bodies.find((b) => b.gpus.some((gpu: any) => gpu.uid === TRAINING))!;
    expect(body.gpus.map((gpu: any) => gpu.uid)).toEqual(expect.arrayContaining([H100, A100, TRAINING, INFERENCE]));
    const a100 = body.gpus.find((gpu: any) => gpu.uid === A100);
    expect(a100).toMatchObject({ gpu_utilization: 40, sm_activity: null, parent_uid: null });
  });

  test("/metrics: MIG devices with dcgm-exporter's GPU_I_ID and GPU_I_PROFILE, DCGM_FI_PROF_* as ratios; the new layout replaces the old", async () => {
    const labels = (gi: number, profile: string) =>
      `gpu="0",UUID="${H100}",pci_bus_id="00000000:18:00.0",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",GPU_I_PROFILE="${profile}",GPU_I_ID="${gi}",`;
    expect(pageBefore).toContain(`DCGM_FI_PROF_SM_ACTIVE{${labels(2, "3g.40gb")}`);
    expect(pageBefore).toMatch(/^DCGM_FI_PROF_SM_ACTIVE\{[^}]*GPU_I_ID="2"[^}]*\} 0\.715$/m);
    expect(pageBefore).toMatch(/^DCGM_FI_DEV_FB_USED\{[^}]*GPU_I_ID="9"[^}]*\} 5120$/m);
    expect(pageBefore).toContain('GPU_I_ID="10"');
    const now = await page();
    expect(now).toMatch(/^DCGM_FI_PROF_GR_ENGINE_ACTIVE\{[^}]*GPU_I_ID="11"[^}]*\} 0\.5$/m);
    expect(now).not.toContain('GPU_I_ID="10"');
    // The GPU itself: its GPM, no utilization (not measured in MIG mode); the A100: utilization, no GPM.
    expect(now).toMatch(/^DCGM_FI_PROF_GR_ENGINE_ACTIVE\{gpu="0",UUID="GPU-9c1f[^}]*\} 0\.6$/m);
    expect(now).not.toMatch(/^DCGM_FI_DEV_GPU_UTIL\{gpu="0"/m);
    expect(now).toMatch(/^DCGM_FI_DEV_GPU_UTIL\{gpu="1"[^}]*\} 40$/m);
    expect(now).not.toMatch(/^DCGM_FI_PROF_\w+\{gpu="1"/m);
    for (const name of EXPORTED_NAMES.filter((exported) => exported.startsWith("DCGM_FI_PROF_"))) expect(now).toContain(`\n${name}{`);
  });
});
