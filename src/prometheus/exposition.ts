// The Prometheus exposition of the latest tick: the catalog's metrics under
// dcgm-exporter's names, labels and units (so its dashboards work unchanged), and
// the agent's own health as gpu_monitor_*. Pure: state in, text out. Text format
// 0.0.4, or OpenMetrics 1.0 when the scraper asks for it.

import type { GpuSample } from "../collect/sample.ts";
import { METRICS, type Metric } from "../metrics/catalog.ts";

export type ExpositionFormat = "text" | "openmetrics";

export const CONTENT_TYPE: Readonly<Record<ExpositionFormat, string>> = {
  text: "text/plain; version=0.0.4; charset=utf-8",
  openmetrics: "application/openmetrics-text; version=1.0.0; charset=utf-8",
};

/** What a scrape shows: kept in memory by the agent, so a scrape touches neither NVML nor the disk. */
export interface ScrapeState {
  hostname: string;
  version: string;
  driverVersion: string | null;
  nvmlVersion: string | null;
  /** The latest tick's readings, and when it was taken (seconds); null before the first. */
  gpus: readonly GpuSample[];
  lastSampleTs: number | null;
  tickDurationSeconds: number | null;
  /** The code of the last XID seen per GPU uuid since the agent started (dcgm-exporter's DCGM_FI_DEV_XID_ERRORS). */
  lastXid: ReadonlyMap<string, number>;
  /** NVML errors counted since start, by the metric (or call) that failed and NVML's code name. */
  nvmlErrors: ReadonlyMap<string, number>;
  windowsPending: number | null;
  windowsFailed: number | null;
  lastSend: { ok: boolean; ts: number } | null;
  scrapes: number;
}

/** dcgm-exporter's type and help for each name the catalog maps to (etc/default-counters.csv, and DCGM's field list). */
const DCGM: Readonly<Record<string, { type: "gauge" | "counter"; help: string }>> = {
  DCGM_FI_DEV_GPU_TEMP: { type: "gauge", help: "GPU temperature (in C)." },
  DCGM_FI_DEV_FB_USED: { type: "gauge", help: "Framebuffer memory used (in MiB)." },
  DCGM_FI_DEV_FB_FREE: { type: "gauge", help: "Framebuffer memory free (in MiB)." },
  DCGM_FI_DEV_FB_RESERVED: { type: "gauge", help: "Framebuffer memory reserved (in MiB)." },
  DCGM_FI_DEV_GPU_UTIL: { type: "gauge", help: "GPU utilization (in %)." },
  DCGM_FI_DEV_MEM_COPY_UTIL: { type: "gauge", help: "Memory utilization (in %)." },
  DCGM_FI_DEV_POWER_USAGE: { type: "gauge", help: "Power draw (in W)." },
  DCGM_FI_DEV_FAN_SPEED: { type: "gauge", help: "Fan speed (in %), the mean over the GPU's fans." },
  DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION: { type: "counter", help: "Total energy consumption since boot (in mJ)." },
  DCGM_FI_DEV_SM_CLOCK: { type: "gauge", help: "SM clock frequency (in MHz)." },
  DCGM_FI_DEV_MEM_CLOCK: { type: "gauge", help: "Memory clock frequency (in MHz)." },
  DCGM_FI_DEV_CLOCK_THROTTLE_REASONS: { type: "gauge", help: "Current clock event (throttle) reasons, NVML's bit mask." },
  DCGM_FI_DEV_ECC_SBE_VOL_TOTAL: { type: "counter", help: "Total number of single-bit volatile ECC errors." },
  DCGM_FI_DEV_ECC_DBE_VOL_TOTAL: { type: "counter", help: "Total number of double-bit volatile ECC errors." },
  DCGM_FI_DEV_ENC_UTIL: { type: "gauge", help: "Encoder utilization (in %)." },
  DCGM_FI_DEV_DEC_UTIL: { type: "gauge", help: "Decoder utilization (in %)." },
  DCGM_FI_DEV_PCIE_TX_THROUGHPUT: { type: "gauge", help: "PCIe bytes transmitted (in KB/s), NVML's 20 ms window." },
  DCGM_FI_DEV_PCIE_RX_THROUGHPUT: { type: "gauge", help: "PCIe bytes received (in KB/s), NVML's 20 ms window." },
  DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS: { type: "counter", help: "Number of remapped rows for correctable errors" },
  DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS: { type: "counter", help: "Number of remapped rows for uncorrectable errors" },
  DCGM_FI_DEV_ROW_REMAP_PENDING: { type: "gauge", help: "Whether remapping of rows is pending (a GPU reset applies it)" },
  DCGM_FI_DEV_ROW_REMAP_FAILURE: { type: "gauge", help: "Whether remapping of rows has failed" },
  DCGM_FI_PROF_GR_ENGINE_ACTIVE: { type: "gauge", help: "Ratio of time the graphics engine is active." },
  DCGM_FI_PROF_SM_ACTIVE: { type: "gauge", help: "The ratio of cycles an SM has at least 1 warp assigned." },
  DCGM_FI_PROF_SM_OCCUPANCY: { type: "gauge", help: "The ratio of number of warps resident on an SM." },
  DCGM_FI_PROF_PIPE_TENSOR_ACTIVE: { type: "gauge", help: "Ratio of cycles the tensor (HMMA) pipe is active." },
  DCGM_FI_PROF_DRAM_ACTIVE: { type: "gauge", help: "Ratio of cycles the device memory interface is active sending or receiving data." },
};

/** dcgm-exporter's units: memory in MiB, power in W, DCGM_FI_PROF_* as ratios (0-1); everything else as NVML gives it. */
const MIB = 1024 * 1024;
function exportedValue(metric: Metric, stored: number): number {
  if (metric.storedUnit === "bytes") return Math.round((stored / MIB) * 1000) / 1000;
  if (metric.storedUnit === "mW") return stored / 1000;
  if (metric.storedUnit === "0.01%") return stored / 10000;
  return stored;
}

const EXPORTED: ReadonlyArray<{ metric: Metric; name: string; type: "gauge" | "counter"; help: string }> = METRICS.flatMap((metric) => {
  const dcgm = metric.exporter ? DCGM[metric.exporter] : undefined;
  return metric.exporter && dcgm && metric.kind !== "list" ? [{ metric, name: metric.exporter, ...dcgm }] : [];
});

/** The catalog's dcgm-exporter names this endpoint exports, in output order (the README's table, the dashboard's check). */
export const EXPORTED_NAMES: readonly string[] = [...EXPORTED.map((entry) => entry.name), "DCGM_FI_DEV_XID_ERRORS"];

/** A label value in the text format: backslash, double quote and line feed escaped. */
function labelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

/**
 * dcgm-exporter's labels, in its order. A MIG device is labelled as dcgm-exporter
 * labels a GPU instance: its GPU's UUID and model, with GPU_I_PROFILE and GPU_I_ID.
 */
function gpuLabels(gpu: GpuSample, state: ScrapeState): string {
  const parent = gpu.parentUuid === null ? null : state.gpus.find((other) => other.uuid === gpu.parentUuid);
  const labels: Array<[string, string]> = [
    ["gpu", String(gpu.index)],
    ["UUID", gpu.parentUuid ?? gpu.uuid],
    ["pci_bus_id", gpu.pciBusId ?? ""],
    ["device", `nvidia${gpu.index}`],
    ["modelName", (parent ? parent.name : gpu.name) ?? ""],
  ];
  if (gpu.parentUuid !== null) labels.push(["GPU_I_PROFILE", gpu.migProfile ?? ""], ["GPU_I_ID", String(gpu.gpuInstanceId ?? "")]);
  labels.push(["Hostname", state.hostname]);
  if (state.driverVersion) labels.push(["DCGM_FI_DRIVER_VERSION", state.driverVersion]);
  return labels.map(([name, value]) => `${name}="${labelValue(value)}"`).join(",");
}

function number(value: number): string {
  return Number.isFinite(value) ? String(value) : value > 0 ? "+Inf" : value < 0 ? "-Inf" : "NaN";
}

/**
 * The GPU part: one family per exported metric, a GPU's sample only where NVML
 * gave the value (NOT_SUPPORTED is left out, never exported as 0). In
 * OpenMetrics, dcgm-exporter's counters keep their names as `unknown` (a counter
 * there must end in _total, which would break the dashboards that use them).
 */
export function gpuExposition(state: ScrapeState, format: ExpositionFormat): string {
  const lines: string[] = [];
  const devices = exportedDevices(state.gpus);
  const labels = devices.map((gpu) => gpuLabels(gpu, state));
  for (const { metric, name, type, help } of EXPORTED) {
    const samples: string[] = [];
    devices.forEach((gpu, i) => {
      const stored = metric.read(gpu);
      if (typeof stored !== "number") return;
      samples.push(`${name}{${labels[i]}} ${number(exportedValue(metric, stored))}`);
    });
    if (samples.length === 0) continue;
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${format === "openmetrics" && type === "counter" ? "unknown" : type}`, ...samples);
  }
  if (state.gpus.length > 0) {
    lines.push("# HELP DCGM_FI_DEV_XID_ERRORS Value of the last XID error encountered.", "# TYPE DCGM_FI_DEV_XID_ERRORS gauge");
    // XIDs are the GPU's: none per MIG device.
    devices.forEach((gpu, i) => gpu.parentUuid === null && lines.push(`DCGM_FI_DEV_XID_ERRORS{${labels[i]}} ${state.lastXid.get(gpu.uuid) ?? 0}`));
  }
  return lines.length > 0 ? `${lines.join("\n")}\n` : "";
}

/**
 * GPUs, and one MIG device per GPU instance: compute instances of one GPU
 * instance share its memory and activity, and would repeat one label set.
 */
function exportedDevices(gpus: readonly GpuSample[]): GpuSample[] {
  const seen = new Set<string>();
  return gpus.filter((gpu) => {
    if (gpu.parentUuid === null) return true;
    const instance = `${gpu.parentUuid}/${gpu.gpuInstanceId}`;
    if (seen.has(instance)) return false;
    seen.add(instance);
    return true;
  });
}

/** The agent's own health. Counters follow each format's rules for their names. */
export function agentExposition(state: ScrapeState, format: ExpositionFormat): string {
  const lines: string[] = [];
  const family = (name: string, type: "gauge" | "counter", help: string, samples: string[], evenEmpty = false) => {
    if (samples.length === 0 && !evenEmpty) return;
    // OpenMetrics names a counter's family without _total and its samples with it.
    const familyName = format === "openmetrics" && type === "counter" ? name.replace(/_total$/, "") : name;
    lines.push(`# HELP ${familyName} ${help}`, `# TYPE ${familyName} ${type}`, ...samples);
  };
  const info = [`version="${labelValue(state.version)}"`];
  if (state.driverVersion) info.push(`driver_version="${labelValue(state.driverVersion)}"`);
  if (state.nvmlVersion) info.push(`nvml_version="${labelValue(state.nvmlVersion)}"`);
  family("gpu_monitor_build_info", "gauge", "The agent's version, and the driver and NVML it reads; always 1.", [`gpu_monitor_build_info{${info.join(",")}} 1`]);
  family("gpu_monitor_gpus", "gauge", "GPUs read at the last tick.", [`gpu_monitor_gpus ${state.gpus.length}`]);
  if (state.lastSampleTs !== null) {
    family("gpu_monitor_last_sample_timestamp_seconds", "gauge", "When the last tick's sample was taken (Unix time).", [`gpu_monitor_last_sample_timestamp_seconds ${state.lastSampleTs}`]);
  }
  if (state.tickDurationSeconds !== null) {
    family("gpu_monitor_tick_duration_seconds", "gauge", "How long the last tick took: sampling and storing.", [`gpu_monitor_tick_duration_seconds ${number(state.tickDurationSeconds)}`]);
  }
  family(
    "gpu_monitor_nvml_errors_total",
    "counter",
    "NVML errors since the agent started, by the metric or call that failed and NVML's code.",
    [...state.nvmlErrors].sort(([a], [b]) => a.localeCompare(b)).map(([key, count]) => {
      const [fn, code] = key.split("|");
      return `gpu_monitor_nvml_errors_total{function="${labelValue(fn ?? "")}",code="${labelValue(code ?? "")}"} ${count}`;
    }),
    true, // named even before the first error, so a dashboard or rule over it finds the metric
  );
  if (state.windowsPending !== null) family("gpu_monitor_windows_pending", "gauge", "Closed windows not yet delivered.", [`gpu_monitor_windows_pending ${state.windowsPending}`]);
  if (state.windowsFailed !== null) family("gpu_monitor_windows_failed", "gauge", "Windows given up on after permanent failures (send --resend failed).", [`gpu_monitor_windows_failed ${state.windowsFailed}`]);
  if (state.lastSend) {
    family("gpu_monitor_last_send_success", "gauge", "Whether the last upload attempt was accepted (1) or failed (0).", [`gpu_monitor_last_send_success ${state.lastSend.ok ? 1 : 0}`]);
    family("gpu_monitor_last_send_timestamp_seconds", "gauge", "When the last upload attempt was made (Unix time).", [`gpu_monitor_last_send_timestamp_seconds ${state.lastSend.ts}`]);
  }
  family("gpu_monitor_scrapes_total", "counter", "Scrapes of this endpoint served since the agent started.", [`gpu_monitor_scrapes_total ${state.scrapes}`]);
  return `${lines.join("\n")}\n`;
}

/** The whole page. The GPU part changes once a tick; callers may keep it between scrapes. */
export function exposition(state: ScrapeState, format: ExpositionFormat, gpuPart = gpuExposition(state, format)): string {
  return `${gpuPart}${agentExposition(state, format)}${format === "openmetrics" ? "# EOF\n" : ""}`;
}

/** OpenMetrics when the scraper prefers it (Prometheus asks for it first), else the text format. */
export function negotiate(accept: string | null): ExpositionFormat {
  return accept?.includes("application/openmetrics-text") ? "openmetrics" : "text";
}
