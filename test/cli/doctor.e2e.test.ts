import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runBinaryAsync } from "../helpers/binary.ts";
import { fakeNvmlLibrary, scenarioFile, type DriverVariant } from "../helpers/fakeNvml.ts";
import { privateCa, refusedUrl, startServer } from "../helpers/server.ts";

const server = startServer(() => new Response("use POST", { status: 405 }));
afterAll(() => server.stop());

async function doctor(scenario: string, url: string, server: Record<string, unknown> = {}, flags: string[] = [], variant: DriverVariant = "current") {
  const dir = mkdtempSync(join(tmpdir(), "gpu-monitor-doctor-"));
  writeFileSync(join(dir, "config.json"), JSON.stringify({ server: { url, ...server }, database: { file: "state/g.db" } }), { mode: 0o600 });
  return runBinaryAsync(["doctor", "-c", join(dir, "config.json"), ...flags], {
    GPU_MONITOR_NVML_LIBRARY: fakeNvmlLibrary(variant),
    FAKE_NVML_SCENARIO: scenarioFile(scenario),
  }, dir);
}

test("doctor: one line per check, every GPU with what it supports; exit 0 when nothing fails", async () => {
  const run = await doctor("rtx4090", server.url);
  const lines = run.stdout.trimEnd().split("\n");
  expect(lines[0]).toMatch(/^PASS  config +.*config\.json is valid$/);
  expect(lines[1]).toMatch(/^PASS  nvml +.*libnvidia-ml\.so\.1: driver 550\.67, NVML 12\.550\.67, CUDA 12\.4$/);
  expect(run.stdout).toMatch(/PASS  gpu 0 +NVIDIA GeForce RTX 4090 \(GPU-5f8a1c2e-7b3d-4e9f-a6c1-2d8e0b4f7a93\): \d+ of \d+ metrics; not available: serial, /);
  expect(run.stdout).toMatch(/PASS  database +.*g\.db does not exist yet; the agent will create it/);
  expect(run.stdout).toMatch(/PASS  server +http:\/\/127\.0\.0\.1:\d+\/api\/metrics: reachable, answered HTTP 405 to GET/);
  expect(run.exitCode).toBe(0);
});

test("doctor: a lost GPU and an unreachable server fail, with what to do; exit 1", async () => {
  const run = await doctor("gpu_lost", await refusedUrl());
  expect(run.stdout).toMatch(/PASS  gpu 0 /);
  expect(run.stdout).toMatch(/FAIL  gpu 1 +GPU 1: the GPU has fallen off the bus .*the GPU may need a reset or a reboot/);
  expect(run.stdout).toMatch(/FAIL  server +.*check the URL, DNS, the firewall/);
  expect(run.exitCode).toBe(1);
});

test("doctor reaches the server through the agent's transport: a private CA in server.ca_file is trusted", async () => {
  const ca = privateCa();
  const tls = startServer(() => new Response("use POST", { status: 405 }), { cert: ca.cert, key: ca.key });
  try {
    const trusted = await doctor("rtx4090", tls.url, { ca_file: ca.caFile });
    expect(trusted.stdout).toMatch(/PASS  server +https:\/\/127\.0\.0\.1:\d+\/api\/metrics: reachable, answered HTTP 405 to GET/);
    const untrusted = await doctor("rtx4090", tls.url);
    expect(untrusted.stdout).toMatch(/FAIL  server +.*TLS failed/);
  } finally {
    tls.stop();
  }
});

test("doctor reports the free space against a day of samples for the GPUs it found", async () => {
  const run = await doctor("eight_gpus", server.url);
  // 8 GPUs, one sample a minute (the default): 1440 x 8 x 29 B x 1.5 = 0.5 MB.
  expect(run.stdout).toMatch(/PASS  disk +[\d.]+ GB free where .*g\.db lives; a day of samples needs about 0\.5 MB \(8 GPU\(s\), one every 60 s\)/);
});

test("doctor warns of a token sent over plain http:// to another host", async () => {
  const run = await doctor("rtx4090", "http://metrics.gpu-monitor.invalid/api", { token: "t0k3n-for-test", timeout_seconds: 2 });
  expect(run.stdout).toMatch(/PASS  config +.*config\.json is valid/);
  expect(run.stdout).toContain("WARN  config    server.url uses plain http:// to metrics.gpu-monitor.invalid: uploads and the token (server.token) travel unencrypted; use https://");
  expect(run.stdout).not.toContain("t0k3n-for-test");
});


test("doctor --format json: the same checks as one document for scripts; the exit code as in text", async () => {
  const healthyRun = await doctor("rtx4090", server.url, {}, ["--format", "json"]);
  const healthy = JSON.parse(healthyRun.stdout);
  expect(Object.keys(healthy)).toEqual(["healthy", "checks"]);
  expect(healthy.healthy).toBe(true);
  expect(healthy.checks[0]).toEqual({ name: "config", status: "pass", detail: expect.stringMatching(/config\.json is valid$/) });
  expect(healthy.checks.map((check: { name: string }) => check.name)).toContain("gpu 0");
  expect(healthyRun.exitCode).toBe(0);
  const lostRun = await doctor("gpu_lost", await refusedUrl(), {}, ["-f", "json"]);
  const lost = JSON.parse(lostRun.stdout);
  expect(lost.healthy).toBe(false);
  expect(lost.checks.find((check: { name: string }) => check.name === "gpu 1")).toMatchObject({ status: "fail", detail: expect.stringContaining("fallen off the bus") });
  expect(lostRun.exitCode).toBe(1);
  const bad = await doctor("rtx4090", server.url, {}, ["--format", "yaml"]);
  expect(bad.stderr).toBe("gpu_monitor: usage error: --format must be text or json, not 'yaml'\n");
  expect(bad.exitCode).toBe(2);
});

describe("doctor on a GPU in MIG mode", () => {
  test("with GPM per GPU instance (driver 525+): MIG on with its MIG devices, activity measured per GPU instance", async () => {
    const run = await doctor("h100_mig", server.url);
    expect(run.stdout).toMatch(/PASS  gpu 0 +NVIDIA H100 80GB HBM3 .*; MIG on, 3 MIG device\(s\) \(3g\.40gb, 1g\.10gb, 1g\.10gb\); activity measured by GPM per GPU instance\n/);
  });

  test("driver 520 has GPM but not per GPU instance: a warning that the MIG devices' activity cannot be measured, with what to do", async () => {
    const run = await doctor("h100_mig", server.url, {}, [], "r520");
    expect(run.stdout).toMatch(
      /WARN  gpu 0 +NVIDIA H100 80GB HBM3 .*; MIG on, 3 MIG device\(s\) \(3g\.40gb, 1g\.10gb, 1g\.10gb\); activity measured by GPM on the GPU as a whole, but cannot be measured on its MIG devices: this driver has no per-GPU-instance GPM \(nvmlGpmMigSampleGet\), so their windows carry no usage; update to driver 525 or later\n/,
    );
    expect(run.stdout).not.toContain("GPM per GPU instance");
  });

  test("a driver without the MIG API says so, not that the GPU has no MIG", async () => {
    const run = await doctor("h100_mig", server.url, {}, [], "old");
    expect(run.stdout).toMatch(/gpu 0 +NVIDIA H100 80GB HBM3 .*; this driver has no MIG API; /);
    expect(run.stdout).not.toContain("MIG not supported");
    const current = await doctor("rtx4090", server.url);
    expect(current.stdout).toMatch(/PASS  gpu 0 +.*; MIG not supported; activity measured by utilization\n/);
  });
});
