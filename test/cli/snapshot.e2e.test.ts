// The compiled binary's `snapshot` against the fake NVML, as a user runs it.

import { beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ProcessOwners } from "../../src/collect/processOwners.ts";
import { nvmlCandidates } from "../../src/nvml/library.ts";
import { compiledBinary, runBinary, TEST_VERSION } from "../helpers/binary.ts";
import { fakeNvmlLibrary, scenarioFile, writeScenario } from "../helpers/fakeNvml.ts";

const ORIGINAL_FIELDS = [
  "uid",
  "pci_bus_id",
  "name",
  "temperature",
  "memory_used",
  "memory_total",
  "gpu_utilization",
  "memory_utilization",
  "power_usage",
  "fan_speed",
  "graphics_clock",
  "memory_clock",
];

let current = "";
let old = "";

beforeAll(() => {
  compiledBinary();
  current = fakeNvmlLibrary("current");
  old = fakeNvmlLibrary("old");
});

function snapshot(scenario: string, format: string, library = current) {
  return runBinary(["snapshot", "--format", format], {
    GPU_MONITOR_NVML_LIBRARY: library,
    FAKE_NVML_SCENARIO: scenarioFile(scenario),
  });
}

describe("snapshot --format json", () => {
  test("one object with timestamp, host and GPUs whose first fields are the original tool's", () => {
    const run = snapshot("rtx4090", "json");
    expect(run.stderr).toBe("");
    expect(run.exitCode).toBe(0);
    const doc = JSON.parse(run.stdout);
    expect(Object.keys(doc)).toEqual(["timestamp", "host", "gpus", "errors"]);
    expect(doc.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(doc.host).toMatchObject({
      driver_version: "550.67",
      nvml_version: "12.550.67",
      cuda_driver_version: "12.4",
      nvml_library: current,
      gpu_count: 1,
    });
    const gpu = doc.gpus[0];
    expect(Object.keys(gpu).slice(0, ORIGINAL_FIELDS.length)).toEqual(ORIGINAL_FIELDS);
    expect(gpu).toMatchObject({
      uid: "GPU-5f8a1c2e-7b3d-4e9f-a6c1-2d8e0b4f7a93",
      pci_bus_id: "00000000:01:00.0",
      name: "NVIDIA GeForce RTX 4090",
      temperature: 48,
      memory_used: 1207959552,
      memory_total: 25757220864,
      gpu_utilization: 37,
      memory_utilization: 12,
      power_usage: 121.35,
      fan_speed: 31,
      graphics_clock: 2520,
      memory_clock: 10501,
      index: 0,
      serial: null,
      fan_speeds: [30, 32],
      power_limit: 450,
      energy_consumption: 9876543210,
      performance_state: 2,
      clock_event_reasons: 0,
      clock_event_reason_names: [],
      ecc_enabled: null,
      pcie_link_generation: 4,
      pcie_link_width: 16,
    });
    // The scenario's pids are made up: who owns them is what /proc says here (almost always: no such process).
    const owner = (pid: number) => {
      const found = new ProcessOwners().owner(pid);
      return { user: found.user, uid: found.uid, container_id: found.containerId, pod_uid: found.podUid, note: found.note };
    };
    // The GPU reports per-process utilization and no process used it since: 0, not unknown.
    const idle = { sm_utilization: 0, memory_utilization: 0, encoder_utilization: 0, decoder_utilization: 0 };
    expect(gpu.processes).toEqual([
      { pid: 45122, type: "compute", name: expect.any(String), used_memory: 939524096, gpu_instance_id: null, compute_instance_id: null, ...owner(45122), ...idle },
      { pid: 1873, type: "graphics", name: expect.any(String), used_memory: 268435456, gpu_instance_id: null, compute_instance_id: null, ...owner(1873), ...idle },
    ]);
    if (!existsSync("/proc/45122")) expect(gpu.processes[0]).toMatchObject({ name: "fake-proc-45122", note: "not in the agent's pid namespace" });
    if (!existsSync("/proc/1873")) expect(gpu.processes[1]).toMatchObject({ name: "fake-proc-1873" });
    expect(doc.errors).toEqual([]);
  });

  test("an old driver: the same shape, unreadable fields null", () => {
    const run = snapshot("old_driver", "json", old);
    expect(run.exitCode).toBe(0);
    const doc = JSON.parse(run.stdout);
    expect(doc.gpus).toHaveLength(2);
    expect(doc.gpus[0]).toMatchObject({ memory_used: 3221225472, energy_consumption: null, memory_reserved: null });
  });
});

describe("snapshot --format csv", () => {
  test("a header and one RFC 4180 row per GPU, original columns first", () => {
    const run = snapshot("eight_gpus", "csv");
    expect(run.exitCode).toBe(0);
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(9);
    expect(lines[0]!.startsWith(`timestamp,${ORIGINAL_FIELDS.join(",")},index,`)).toBe(true);
    const first = lines[1]!.split(",");
    expect(first.slice(1, 13)).toEqual([
      "GPU-a1b2c3d4-0001-4e5f-8a9b-0c1d2e3f4a51",
      "00000000:18:00.0",
      "NVIDIA H100 80GB HBM3",
      "41",
      "69793218560",
      "85520809984",
      "97",
      "54",
      "612.34",
      "",
      "1980",
      "2619",
    ]);
  });

  test("a name with a comma is quoted", () => {
    const scenario = join(mkdtempSync(join(tmpdir(), "csv-")), "s.conf");
    writeFileSync(scenario, 'gpu0.name = NVIDIA "Special", Edition\n');
    const run = runBinary(["snapshot", "-f", "csv"], { GPU_MONITOR_NVML_LIBRARY: current, FAKE_NVML_SCENARIO: scenario });
    expect(run.stdout.split("\n")[1]).toContain(',"NVIDIA ""Special"", Edition",');
  });
});

describe("snapshot --format table", () => {
  test("aligned columns a person reads at a glance, and the processes", () => {
    const run = snapshot("rtx4090", "table");
    expect(run.exitCode).toBe(0);
    const lines = run.stdout.split("\n");
    expect(lines[0]).toContain("Driver 550.67  CUDA 12.4");
    const header = lines.find((line) => line.includes("Bus-Id"))!;
    const row = lines[lines.indexOf(header) + 1]!;
    expect(row).toContain("NVIDIA GeForce RTX 4090");
    expect(row).toContain("00000000:01:00.0");
    expect(row).toContain("48C");
    expect(row).toContain("31%");
    expect(row).toContain("121.3W / 450W");
    expect(row).toContain("1152MiB / 24564MiB");
    expect(row).toContain("2520/10501 MHz");
    expect(row).toContain("470/2 MB/s"); // PCIe rx/tx: 481230 and 2150 KB/s
    // Columns line up: the bus id starts where its header does.
    expect(row.indexOf("00000000:01:00.0")).toBe(header.indexOf("Bus-Id"));
    expect(run.stdout).toMatch(/45122\s+C\s+fake-proc-45122\s+896MiB/);
    expect(run.stdout).not.toContain("GPU 0:"); // nothing needs a look
  });

  test("MPS clients are listed with type M (JSON: mps), beside the MPS server's compute entry", () => {
    const scenario = writeScenario(readFileSync(scenarioFile("rtx4090"), "utf8") + "\ngpu0.processes.mps = 45200:536870912, 45201:268435456\n");
    const env = { GPU_MONITOR_NVML_LIBRARY: current, FAKE_NVML_SCENARIO: scenario };
    const table = runBinary(["snapshot"], env);
    expect(table.exitCode).toBe(0);
    expect(table.stdout).toMatch(/45122\s+C\s+fake-proc-45122/);
    expect(table.stdout).toMatch(/45200\s+M\s+fake-proc-45200\s+512MiB/);
    const json = JSON.parse(runBinary(["snapshot", "-f", "json"], env).stdout);
    expect(json.gpus[0].processes.filter((p: any) => p.type === "mps").map((p: any) => p.pid)).toEqual([45200, 45201]);
    expect(runBinary(["snapshot", "-f", "csv"], env).stdout).toContain("45201:M:268435456:");
  });

  test("below the table, what needs a look: clocks held back (not idling), remapped rows", () => {
    const scenario = join(mkdtempSync(join(tmpdir(), "health-")), "s.conf");
    writeFileSync(scenario, "gpu0.clock_event_reasons = 0x45\ngpu0.remapped_rows = 2,1,1,0\ngpu1.clock_event_reasons = 0x1\n");
    const run = runBinary(["snapshot"], { GPU_MONITOR_NVML_LIBRARY: current, FAKE_NVML_SCENARIO: scenario });
    expect(run.stdout).toContain(
      "GPU 0: clocks held back by sw_power_cap, hw_thermal_slowdown; remapped rows 2 correctable, 1 uncorrectable; a row remap is pending (reset the GPU to apply it)",
    );
    expect(run.stdout).not.toContain("GPU 1:");
    const json = JSON.parse(runBinary(["snapshot", "-f", "json"], { GPU_MONITOR_NVML_LIBRARY: current, FAKE_NVML_SCENARIO: scenario }).stdout);
    expect(json.gpus[0]).toMatchObject({ remapped_rows_correctable: 2, remapped_rows_uncorrectable: 1, remapped_rows_pending: true, remapped_rows_failure: false });
    expect(json.gpus[0].clock_event_reason_names).toEqual(["gpu_idle", "sw_power_cap", "hw_thermal_slowdown"]);
    expect(json.gpus[0]).toMatchObject({ utilization_source: "point", utilization_samples: 0 });
  });
});

describe("process lists NVML refuses", () => {
  test("JSON: processes null and the reason in field_errors; the table says N/A (no permission)", () => {
    const scenario = join(mkdtempSync(join(tmpdir(), "refused-")), "s.conf");
    writeFileSync(scenario, "gpu0.processes.compute = 4242:1048576\ngpu0.processes = !NO_PERMISSION\ngpu1.processes.compute = 4343:1048576\n");
    const env = { GPU_MONITOR_NVML_LIBRARY: current, FAKE_NVML_SCENARIO: scenario };
    const json = JSON.parse(runBinary(["snapshot", "-f", "json"], env).stdout);
    expect(json.gpus[0].processes).toBeNull();
    expect(json.gpus[0].field_errors).toEqual({ compute_processes: "NVML_ERROR_NO_PERMISSION", graphics_processes: "NVML_ERROR_NO_PERMISSION", mps_processes: "NVML_ERROR_NO_PERMISSION" });
    expect(json.gpus[1].processes.map((p: { pid: number }) => p.pid)).toEqual([4343]);
    const table = runBinary(["snapshot"], env);
    expect(table.exitCode).toBe(0);
    expect(table.stdout).toMatch(/^\s*0\s+N\/A\s+N\/A \(no permission\)/m);
    expect(table.stdout).toMatch(/^\s*1\s+4343\s+C\s/m);
    expect(table.stdout).not.toContain("No running processes found");
  });
});

describe("exit codes and messages", () => {
  test("a lost GPU: exit 1, the others still printed, one line on stderr", () => {
    const run = snapshot("gpu_lost", "json");
    expect(run.exitCode).toBe(1);
    const doc = JSON.parse(run.stdout);
    expect(doc.gpus.map((g: { index: number }) => g.index)).toEqual([0, 2]);
    expect(doc.errors).toEqual([
      { index: 1, error: "NVML_ERROR_GPU_IS_LOST", message: expect.stringContaining("fallen off the bus") },
    ]);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toContain("gpu_monitor: GPU 1: the GPU has fallen off the bus");
  });

  test("no permission on one GPU: exit 1, the table shows the others and the error", () => {
    const run = snapshot("no_permission", "table");
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toMatch(/^\s*1\s+unreadable \(NO_PERMISSION\)/m);
    expect(run.stdout).toContain("GPU 1: no permission to access this GPU");
    expect(run.stdout.match(/NVIDIA L40S/g)).toHaveLength(2);
  });

  test("driver not loaded: exit 3, one line, no stack trace", () => {
    const run = snapshot("driver_not_loaded", "json");
    expect(run.exitCode).toBe(3);
    expect(run.stdout).toBe("");
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toContain("the NVIDIA driver is not loaded");
    expect(run.stderr).not.toContain("    at ");
  });

  test("no library at the given path: exit 3 naming it", () => {
    const run = runBinary(["snapshot"], { GPU_MONITOR_NVML_LIBRARY: "/nonexistent/libnvidia-ml.so.1" });
    expect(run.exitCode).toBe(3);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toContain("Tried: /nonexistent/libnvidia-ml.so.1 (no such file)");
  });

  test("no library anywhere: exit 3 listing every path tried, never the working directory's copy", () => {
    const systemHasNvml = nvmlCandidates({ platform: process.platform, arch: process.arch, env: {} }).some(
      (path) => path.startsWith("/") && existsSync(path),
    );
    if (systemHasNvml) return; // a real driver is installed here; the search would rightly find it
    const cwd = mkdtempSync(join(tmpdir(), "decoy-"));
    copyFileSync(current, join(cwd, "libnvidia-ml.so.1"));
    const run = runBinary(["snapshot"], { FAKE_NVML_SCENARIO: scenarioFile("rtx4090") }, cwd);
    expect(run.exitCode).toBe(3);
    expect(run.stderr).toContain("install the NVIDIA driver");
    expect(run.stderr).toContain("/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1 (no such file)");
    expect(run.stderr).not.toContain("NVIDIA GeForce");
  });

  test("a .env or bunfig.toml in the working directory is not read", () => {
    const cwd = mkdtempSync(join(tmpdir(), "dotenv-"));
    writeFileSync(join(cwd, ".env"), `GPU_MONITOR_NVML_LIBRARY=${current}\nFAKE_NVML_SCENARIO=${scenarioFile("rtx4090")}\n`);
    writeFileSync(join(cwd, "bunfig.toml"), 'preload = ["./nope.ts"]\n');
    const run = runBinary(["snapshot", "--nvml-library", "/nonexistent/nvml.so"], {}, cwd);
    expect(run.exitCode).toBe(3);
    expect(run.stderr).toContain("/nonexistent/nvml.so");
  });

  test("the library path can come from the config file's nvml.library", () => {
    const dir = mkdtempSync(join(tmpdir(), "cfg-"));
    writeFileSync(join(dir, "config.json"), JSON.stringify({ nvml: { library: current } }));
    const run = runBinary(["snapshot", "-c", join(dir, "config.json"), "--format", "json"], {
      FAKE_NVML_SCENARIO: scenarioFile("h100"),
    });
    expect(run.exitCode).toBe(0);
    expect(JSON.parse(run.stdout).gpus[0].name).toBe("NVIDIA H100 80GB HBM3");
  });

  test("a bad config: exit 2 naming the file and the key, no stack trace", () => {
    const dir = mkdtempSync(join(tmpdir(), "cfg-"));
    const file = join(dir, "config.json");
    writeFileSync(file, '{ "nvml": { "libary": "/x" } }');
    const run = runBinary(["snapshot", "--config", file], { GPU_MONITOR_NVML_LIBRARY: current });
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain(`${file}: unknown key nvml.libary (did you mean nvml.library?)`);
    expect(run.stderr).not.toContain("    at ");
  });

  test("a bad --format is a usage error (exit 2)", () => {
    const run = snapshot("rtx4090", "xml");
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain("--format must be one of json, csv, table");
  });

  test("--version prints the baked-in version", () => {
    const run = runBinary(["--version"]);
    expect(run.exitCode).toBe(0);
    expect(run.stdout.trim()).toBe(TEST_VERSION);
  });
});

describe("snapshot table with wide characters", () => {
  test("a GPU named in CJK with an emoji keeps the columns after it under their headers", () => {
    const scenario = join(mkdtempSync(join(tmpdir(), "wide-")), "s.conf");
    writeFileSync(scenario, "gpu0.name = 训练卡🔥 H100\ngpu0.pci.bus = 0x01\ngpu1.name = NVIDIA A100\ngpu1.pci.bus = 0x02\n");
    const run = runBinary(["snapshot"], { GPU_MONITOR_NVML_LIBRARY: current, FAKE_NVML_SCENARIO: scenario });
    expect(run.exitCode).toBe(0);
    const lines = run.stdout.split("\n");
    const header = lines.find((line) => line.includes("Bus-Id"))!;
    const rows = lines.slice(lines.indexOf(header) + 1, lines.indexOf(header) + 3);
    expect(rows[0]).toContain("训练卡🔥 H100");
    const column = (line: string, text: string) => Bun.stringWidth(line.slice(0, line.indexOf(text)));
    for (const row of rows) expect(column(row, "00000000:")).toBe(column(header, "Bus-Id"));
  });
});

describe("snapshot --watch, piped", () => {
  /** Starts `snapshot --watch ...` with stdout a pipe, and reads whole lines as they come. */
  function watchPiped(args: string[], scenario: string) {
    const child = Bun.spawn([compiledBinary(), "snapshot", "--watch", ...args], {
      cwd: mkdtempSync(join(tmpdir(), "watch-")),
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", GPU_MONITOR_NVML_LIBRARY: current, FAKE_NVML_SCENARIO: scenario },
      stdout: "pipe",
      stderr: "pipe",
    });
    const reader = (child.stdout as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let buffered = "";
    return {
      child,
      async lines(count: number): Promise<string[]> {
        while (buffered.split("\n").length - 1 < count) {
          const { value, done } = await reader.read();
          if (done) break;
          buffered += decoder.decode(value);
        }
        return buffered.split("\n").slice(0, count);
      },
    };
  }

  test("one JSON document a line, NVML opened once for all of them, exit 0 on SIGTERM", async () => {
    const scenario = join(mkdtempSync(join(tmpdir(), "watch-")), "s.conf");
    // The counter grows from the library's init: were NVML opened anew each time, it would start over.
    writeFileSync(scenario, `${readFileSync(scenarioFile("rtx4090"), "utf8")}\ngpu0.energy.rate_mw = 100000\n`);
    const watching = watchPiped(["0.3"], scenario);
    const lines = await watching.lines(3);
    watching.child.kill("SIGTERM");
    expect(await watching.child.exited).toBe(0);
    const documents = lines.map((line) => JSON.parse(line));
    for (const document of documents) {
      expect(Object.keys(document)).toEqual(["timestamp", "host", "gpus", "errors"]);
      expect(document.gpus[0].name).toBe("NVIDIA GeForce RTX 4090");
    }
    const energy = documents.map((document) => document.gpus[0].energy_consumption as number);
    // 100 W for 0.3 s is 30 000 mJ between readings.
    expect(energy[1]! - energy[0]!).toBeGreaterThan(20_000);
    expect(energy[2]! - energy[1]!).toBeGreaterThan(20_000);
    expect(await new Response(watching.child.stderr as ReadableStream).text()).toBe("");
  });

  test("--watch without SECONDS reads every 2 s; SIGINT ends it with exit 0", async () => {
    const watching = watchPiped(["-f", "json"], scenarioFile("rtx4090"));
    const started = performance.now();
    const lines = await watching.lines(2);
    const elapsed = performance.now() - started;
    watching.child.kill("SIGINT");
    expect(await watching.child.exited).toBe(0);
    expect(lines.map((line) => JSON.parse(line).gpus.length)).toEqual([1, 1]);
    expect(elapsed).toBeGreaterThanOrEqual(1900);
  });

  test("a SECONDS that is not one, or csv: exit 2 saying what is wanted", () => {
    const env = { GPU_MONITOR_NVML_LIBRARY: current, FAKE_NVML_SCENARIO: scenarioFile("rtx4090") };
    const zero = runBinary(["snapshot", "--watch", "0"], env);
    expect(zero.stderr).toBe("gpu_monitor: usage error: --watch takes a number of seconds of at least 0.1, such as --watch 5, not '0'\n");
    expect(zero.exitCode).toBe(2);
    const csv = runBinary(["snapshot", "--watch", "-f", "csv"], env);
    expect(csv.stderr).toBe("gpu_monitor: usage error: --watch prints a table or JSON Lines (-f json), not csv\n");
    expect(csv.exitCode).toBe(2);
  });
});
