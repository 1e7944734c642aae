// The Windows exe on Linux under Wine, with a fake nvml.dll built by mingw from
// the same fake NVML: snapshot, a short run and -sc.

import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compile } from "../../packaging/build.ts";
import { REPO, scenarioFile } from "../helpers/fakeNvml.ts";

const WINE = ["/usr/lib/wine/wine64", Bun.which("wine64") ?? ""].find((path) => path && existsSync(path)) ?? null;
const MINGW = Bun.which("x86_64-w64-mingw32-gcc");
const available = WINE !== null && MINGW !== null;
if (!available && process.env.CI) throw new Error("CI must test the Windows exe: .ci/run installs wine64 and gcc-mingw-w64-x86-64");

const dir = join(REPO, ".cache/windows");
const env = { WINEDEBUG: "-all", WINEPREFIX: join(REPO, ".cache/wineprefix"), PATH: process.env.PATH ?? "/usr/bin:/bin" };

function prepare(): void {
  mkdirSync(dir, { recursive: true });
  compile({ target: "bun-windows-x64", outfile: join(dir, "gpu_monitor.exe"), version: "0.0.0-wine" });
  const build = (args: string[]) => {
    const result = Bun.spawnSync([MINGW!, ...args], { stderr: "pipe" });
    if (result.exitCode !== 0) throw new Error(`mingw failed: ${result.stderr}`);
  };
  build(["-std=c11", "-O2", "-shared", "-o", join(dir, "nvml.dll"), join(REPO, "test/fake-nvml/fake_nvml.c")]);
  build(["-O2", "-shared", "-o", join(dir, "bcryptprimitives.dll"), join(REPO, "test/windows/bcryptprimitives.c"), "-ladvapi32"]);
  writeFileSync(
    join(dir, "config.json"),
    JSON.stringify({ collection: { interval_seconds: 1, aggregation_interval_seconds: 2 }, database: { file: "gpu_metrics.db" }, logging: { file: "" } }),
  );
  for (const stale of ["gpu_metrics.db", "gpu_metrics.db-wal", "gpu_metrics.db-shm", "gpu_metrics.db.lock"]) {
    if (existsSync(join(dir, stale))) Bun.spawnSync(["rm", "-f", join(dir, stale)]);
  }
}

function wine(args: string[], extraEnv: Record<string, string> = {}, timeoutMs = 120_000) {
  const result = Bun.spawnSync([WINE!, join(dir, "gpu_monitor.exe"), ...args], {
    cwd: dir,
    env: { ...env, ...extraEnv },
    stdout: "pipe",
    stderr: "pipe",
    timeout: timeoutMs,
  });
  return { exitCode: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

/**
 * Wine makes its prefix on first use; that can fail half-way (seen once on a busy CI
 * machine: "could not load kernel32.dll", nothing run). Such a prefix is made again,
 * once; the exe's own result is then checked as before.
 */
function wineReady(): void {
  const first = wine(["--version"]);
  if (first.exitCode === 0) return;
  rmSync(env.WINEPREFIX, { recursive: true, force: true });
}

const nvmlDll = () => `Z:${join(dir, "nvml.dll").replaceAll("/", "\\")}`;

describe.skipIf(!available)("the Windows exe under Wine", () => {
  test("snapshot, a short run and -sc work with a fake nvml.dll", async () => {
    prepare();
    wineReady();
    expect(wine(["--version"]).stdout.trim()).toBe("0.0.0-wine");

    const snapshot = wine(["snapshot", "--format", "json", "--nvml-library", nvmlDll()], { FAKE_NVML_SCENARIO: scenarioFile("rtx4090") });
    expect(snapshot.exitCode).toBe(0);
    const doc = JSON.parse(snapshot.stdout);
    expect(doc.host.driver_version).toBe("550.67");
    expect(doc.gpus[0]).toMatchObject({ name: "NVIDIA GeForce RTX 4090", temperature: 48, fan_speeds: [30, 32], power_usage: 121.35 });

    const agent = Bun.spawn([WINE!, join(dir, "gpu_monitor.exe"), "run", "-c", "config.json"], {
      cwd: dir,
      env: { ...env, FAKE_NVML_SCENARIO: scenarioFile("h100"), GPU_MONITOR_NVML_LIBRARY: nvmlDll() },
      stdout: "ignore",
      stderr: "pipe",
    });
    await Bun.sleep(7000);
    agent.kill("SIGTERM");
    await agent.exited;
    const log = await new Response(agent.stderr as ReadableStream).text();
    expect(log).toContain("NVML ready:");

    const shown = wine(["-c", "config.json", "-sc", "", "-f", "csv"]);
    expect(shown.exitCode).toBe(0);
    const lines = shown.stdout.trimEnd().split("\n");
    expect(lines[0]).toStartWith("timestamp,uid,pci_bus_id,name,temperature,");
    expect(lines[1]).toContain(",GPU-9c1f6e2a-3b47-4d85-b2e9-7a0c5d18f364,00000000:18:00.0,NVIDIA H100 80GB HBM3,56,");
    const windows = JSON.parse(wine(["-c", "config.json", "export", "--from", "2020-01-01", "--level", "hourly"]).stdout);
    expect(windows.length).toBeGreaterThanOrEqual(1);
  }, 300_000);
});
