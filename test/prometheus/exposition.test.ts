// The exposition: dcgm-exporter's names, labels and units, omitted where NVML
// cannot give a value, the agent's own gpu_monitor_* series, both formats, and
// promtool's lint (Debian's `prometheus` package; .ci/run installs it).

import { describe, expect, test } from "bun:test";
import { exposition, negotiate, type ScrapeState } from "../../src/prometheus/exposition.ts";
import { eightGpus, gpuSample } from "../helpers/samples.ts";

function state(overrides: Partial<ScrapeState> = {}): ScrapeState {
  return {
    hostname: "gpu-host-1",
    version: "0.1.0",
    driverVersion: "550.54.15",
    nvmlVersion: "12.550.54.15",
    gpus: eightGpus(),
    lastSampleTs: 1_765_000_000,
    tickDurationSeconds: 0.0012,
    lastXid: new Map([["GPU-00000000-0000-0000-0000-000000000003", 79]]),
    nvmlErrors: new Map([["power_usage|NVML_ERROR_UNKNOWN", 3]]),
    windowsPending: 2,
    windowsFailed: 1,
    lastSend: { ok: false, ts: 1_764_999_990 },
    scrapes: 5,
    ...overrides,
  };
}

const LABELS_0 =
  'gpu="0",UUID="GPU-00000000-0000-0000-0000-000000000000",pci_bus_id="00000000:18:00.0",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",Hostname="gpu-host-1",DCGM_FI_DRIVER_VERSION="550.54.15"';

function promtool(text: string): { exitCode: number; output: string } {
  const run = Bun.spawnSync(["promtool", "check", "metrics"], { stdin: Buffer.from(text), stdout: "pipe", stderr: "pipe" });
  return { exitCode: run.exitCode, output: `${run.stdout}${run.stderr}` };
}

describe("the exposition", () => {
  test("dcgm-exporter's names, labels and units: memory in MiB, power in W, energy in mJ", () => {
    const text = exposition(state(), "text");
    const gpu = eightGpus()[0]!;
    expect(text).toContain(`DCGM_FI_DEV_GPU_UTIL{${LABELS_0}} ${gpu.gpuUtilizationPercent}\n`);
    expect(text).toContain(`DCGM_FI_DEV_FB_USED{${LABELS_0}} ${Math.round((gpu.memoryUsedBytes! / 1048576) * 1000) / 1000}\n`);
    expect(text).toContain(`DCGM_FI_DEV_POWER_USAGE{${LABELS_0}} ${gpu.powerUsageMilliwatts! / 1000}\n`);
    expect(text).toContain(`DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{${LABELS_0}} ${gpu.energyMillijoules}\n`);
    expect(text).toContain("# TYPE DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION counter\n");
    expect(text).toContain(`DCGM_FI_DEV_ROW_REMAP_PENDING{${LABELS_0}} 0\n`);
    // the last XID per GPU, 0 where none was seen
    expect(text).toMatch(/DCGM_FI_DEV_XID_ERRORS\{gpu="3",[^}]*\} 79\n/);
    expect(text).toContain(`DCGM_FI_DEV_XID_ERRORS{${LABELS_0}} 0\n`);
    expect(text.match(/^DCGM_FI_DEV_GPU_TEMP\{/gm)).toHaveLength(8);
  });

  test("a metric NVML cannot give for a GPU is left out for that GPU, never exported as 0", () => {
    const gpus = [gpuSample({ index: 0, fanSpeedsPercent: null, remappedRowsCorrectable: null }), gpuSample({ index: 1, uuid: "GPU-b", fanSpeedsPercent: [40] })];
    const text = exposition(state({ gpus }), "text");
    expect(text.match(/^DCGM_FI_DEV_FAN_SPEED\{.*$/gm)).toEqual([expect.stringContaining('gpu="1"')]);
    expect(text).not.toContain("DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS{gpu=\"0\"");
    // nothing of a metric no GPU gives: no empty family
    const none = exposition(state({ gpus: [gpuSample({ fanSpeedsPercent: null })] }), "text");
    expect(none).not.toContain("DCGM_FI_DEV_FAN_SPEED");
  });

  test("the agent's own health", () => {
    const text = exposition(state(), "text");
    expect(text).toContain('gpu_monitor_build_info{version="0.1.0",driver_version="550.54.15",nvml_version="12.550.54.15"} 1\n');
    expect(text).toContain("gpu_monitor_last_sample_timestamp_seconds 1765000000\n");
    expect(text).toContain("gpu_monitor_tick_duration_seconds 0.0012\n");
    expect(text).toContain('gpu_monitor_nvml_errors_total{function="power_usage",code="NVML_ERROR_UNKNOWN"} 3\n');
    expect(text).toContain("gpu_monitor_windows_pending 2\n");
    expect(text).toContain("gpu_monitor_windows_failed 1\n");
    expect(text).toContain("gpu_monitor_last_send_success 0\n");
    expect(text).toContain("# TYPE gpu_monitor_scrapes_total counter\ngpu_monitor_scrapes_total 5\n");
    // named before the first error, so that rules and dashboards over it find it
    expect(exposition(state({ nvmlErrors: new Map() }), "text")).toContain("# TYPE gpu_monitor_nvml_errors_total counter\n");
  });

  test("label values are escaped: a GPU name with a quote, a backslash or a line break stays one sample", () => {
    const text = exposition(state({ gpus: [gpuSample({ name: 'a "b" \\ c\nd' })] }), "text");
    expect(text).toContain('modelName="a \\"b\\" \\\\ c\\nd"');
    expect(promtool(text).output).not.toContain("error");
  });

  test("OpenMetrics when asked: # EOF, counters of our own as families without _total, dcgm-exporter's counters keep their names", () => {
    expect(negotiate("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")).toBe("openmetrics");
    expect(negotiate("text/plain")).toBe("text");
    expect(negotiate(null)).toBe("text");
    const text = exposition(state(), "openmetrics");
    expect(text.endsWith("# EOF\n")).toBe(true);
    expect(text).toContain("# TYPE gpu_monitor_scrapes counter\ngpu_monitor_scrapes_total 5\n");
    expect(text).toContain("# TYPE DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION unknown\n");
  });
});

describe("promtool check metrics", () => {
  test("parses the exposition; our own metrics lint clean; the only notes are those dcgm-exporter's names draw", () => {
    const { exitCode, output } = promtool(exposition(state(), "text"));
    const notes = output.trim().split("\n").filter(Boolean);
    expect(exitCode === 0 || exitCode === 3).toBe(true); // 3: lint notes, not a parse error
    expect(output).not.toMatch(/error while linting|parse/i);
    expect(notes.filter((note) => note.startsWith("gpu_monitor_"))).toEqual([]);
    for (const note of notes) {
      expect(note).toMatch(/^DCGM_FI_DEV_\w+ (label names should be written in 'snake_case' not 'camelCase'|counter metrics should have "_total" suffix)$/);
    }
    // the notes are there because of dcgm-exporter's names, which dashboards depend on
    expect(notes.some((note) => note.includes("camelCase"))).toBe(true);
  });
});

describe("MIG devices and GPM", () => {
  const gpm = (percent: number) => ({
    spanMs: 60_000,
    smActivityPercent: percent,
    smOccupancyPercent: percent / 2,
    tensorActivityPercent: percent / 4,
    dramActivityPercent: percent / 5,
    graphicsActivityPercent: percent,
  });
  const parent = gpuSample({ gpuUtilizationPercent: null, memoryUtilizationPercent: null, migMode: true, gpm: gpm(40) });
  const slice = (uuid: string, gi: number, ci: number, percent: number) =>
    gpuSample({
      uuid,
      name: "NVIDIA H100 80GB HBM3 MIG 1g.10gb",
      parentUuid: parent.uuid,
      gpuInstanceId: gi,
      computeInstanceId: ci,
      migProfile: "1g.10gb",
      memoryUsedBytes: 1024 * 1024 * 1024,
      temperatureCelsius: null,
      powerUsageMilliwatts: null,
      energyMillijoules: null,
      gpuUtilizationPercent: null,
      gpm: gpm(percent),
    });

  test("a MIG device carries its GPU's UUID and model with GPU_I_PROFILE and GPU_I_ID; DCGM_FI_PROF_* are ratios", () => {
    const text = exposition(state({ gpus: [parent, slice("MIG-a", 9, 0, 25)] }), "text");
    const sliceLabels =
      'gpu="0",UUID="GPU-00000000-0000-0000-0000-000000000000",pci_bus_id="00000000:18:00.0",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",GPU_I_PROFILE="1g.10gb",GPU_I_ID="9",Hostname="gpu-host-1",DCGM_FI_DRIVER_VERSION="550.54.15"';
    expect(text).toContain(`DCGM_FI_DEV_FB_USED{${sliceLabels}} 1024\n`);
    expect(text).toContain(`DCGM_FI_PROF_SM_ACTIVE{${sliceLabels}} 0.25\n`);
    expect(text).toContain(`DCGM_FI_PROF_GR_ENGINE_ACTIVE{${LABELS_0}} 0.4\n`);
    expect(text).toContain(`DCGM_FI_PROF_PIPE_TENSOR_ACTIVE{${LABELS_0}} 0.1\n`);
    expect(text).toContain("# TYPE DCGM_FI_PROF_DRAM_ACTIVE gauge\n");
    // the GPU's own utilization is not measured in MIG mode: left out, never 0
    expect(text).not.toContain("DCGM_FI_DEV_GPU_UTIL{");
    // XIDs are the GPU's
    expect(text.match(/^DCGM_FI_DEV_XID_ERRORS\{/gm)).toHaveLength(1);
    // parses; the only lint notes are the camelCase ones dcgm-exporter's names draw, as for a GPU
    const { exitCode, output } = promtool(text);
    expect(exitCode === 0 || exitCode === 3).toBe(true);
    for (const note of output.trim().split("\n").filter(Boolean)) expect(note).toMatch(/^DCGM_FI_(DEV|PROF)_\w+ (label names should be written in 'snake_case' not 'camelCase'|counter metrics should have "_total" suffix)$/);
  });

  test("compute instances of one GPU instance are one series, not a repeated label set", () => {
    const text = exposition(state({ gpus: [parent, slice("MIG-a", 9, 0, 25), slice("MIG-b", 9, 1, 25), slice("MIG-c", 10, 0, 5)] }), "text");
    expect(text.match(/^DCGM_FI_PROF_SM_ACTIVE\{/gm)).toHaveLength(3);
    expect(text).toContain('GPU_I_ID="10"');
  });

  test("a GPU without GPM exports no DCGM_FI_PROF_* series", () => {
    expect(exposition(state(), "text")).not.toContain("DCGM_FI_PROF_");
  });
});

