// `snapshot` output in its three formats.

import type { GpuSample } from "../../collect/sample.ts";
import { NOT_IN_NAMESPACE } from "../../collect/processOwners.ts";
import type { GpuRecord, ProcessRecord, SnapshotDocument } from "../../collect/snapshot.ts";
import { fanMean, METRICS } from "../../metrics/catalog.ts";
import { clockEventReasonNames } from "../../nvml/index.ts";
import { toCsv, type CsvValue } from "../../util/csv.ts";
import { escapeControl } from "../../util/text.ts";
import { renderTable } from "./table.ts";
import { utilizationBar } from "./watch.ts";

export type SnapshotFormat = "json" | "csv" | "table";

export interface TableOptions {
  /** Utilization as bars (`snapshot --watch`) rather than bare figures. */
  bars?: boolean;
}

/** The document, and the readings it was made from (the table shows them in units of its own). */
export function renderSnapshot(document: SnapshotDocument, gpus: readonly GpuSample[], format: SnapshotFormat, options: TableOptions = {}): string {
  switch (format) {
    case "json":
      return JSON.stringify(document, null, 2) + "\n";
    case "csv":
      return snapshotCsv(document);
    case "table":
      return snapshotTable(document, gpus, options);
  }
}

/** One JSON document on one line: `snapshot --watch` writes JSON Lines. */
export function snapshotJsonLine(document: SnapshotDocument): string {
  return JSON.stringify(document) + "\n";
}

// ---- CSV ------------------------------------------------------------------

/** Columns after `timestamp`: every metric in catalog order, then what else a GPU record holds; lists are joined with ";". */
export const SNAPSHOT_CSV_COLUMNS: readonly string[] = [...METRICS.map((metric) => metric.name), "processes", "field_errors", "error"];

function csvCell(record: SnapshotDocument["gpus"][number], column: string): CsvValue {
  const value = record[column];
  if (column === "processes") {
    // pid:type:used_memory:name, type C (compute), G (graphics) or M (MPS client) as nvidia-smi writes it
    return (value as ProcessRecord[] | null)?.map((p) => `${p.pid}:${PROCESS_TYPE_LETTER[p.type]}:${p.used_memory ?? ""}:${p.name ?? ""}`).join(";");
  }
  if (column === "field_errors") {
    return value ? Object.entries(value as Record<string, string>).map(([field, code]) => `${field}=${code}`).join(";") : null;
  }
  if (Array.isArray(value)) return value.join(";");
  return value as CsvValue;
}

function snapshotCsv(document: SnapshotDocument): string {
  // One row per device: a GPU's MIG devices follow it, their parent_uid naming it.
  const devices = document.gpus.flatMap((gpu) => [gpu, ...((gpu.mig_devices as GpuRecord[] | undefined) ?? [])]);
  const rows: CsvValue[][] = devices.map((gpu) => [
    document.timestamp,
    ...SNAPSHOT_CSV_COLUMNS.map((column) => csvCell(gpu, column)),
  ]);
  for (const failure of document.errors) {
    rows.push([
      document.timestamp,
      ...SNAPSHOT_CSV_COLUMNS.map((column) =>
        column === "index" ? failure.index : column === "error" ? `${failure.error}: ${failure.message}` : null,
      ),
    ]);
  }
  const indexAt = 1 + SNAPSHOT_CSV_COLUMNS.indexOf("index");
  rows.sort((a, b) => Number(a[indexAt]) - Number(b[indexAt]));
  return toCsv(["timestamp", ...SNAPSHOT_CSV_COLUMNS], rows);
}

// ---- table ------------------------------------------------------------------

const NA = "N/A";
/** A process's Type column, as nvidia-smi writes it (M: an MPS client). */
const PROCESS_TYPE_LETTER = { compute: "C", graphics: "G", mps: "M" } as const;
const MIB = 1024 * 1024;

function mib(bytes: number | null): string {
  return bytes === null ? NA : `${Math.round(bytes / MIB)}MiB`;
}

function mbPerSecond(kilobytesPerSecond: number | null): string {
  return kilobytesPerSecond === null ? NA : String(Math.round(kilobytesPerSecond / 1024));
}

function withUnit(value: number | null, unit: string, digits = 0): string {
  return value === null ? NA : `${value.toFixed(digits)}${unit}`;
}

function snapshotTable(document: SnapshotDocument, gpus: readonly GpuSample[], options: TableOptions): string {
  const host = document.host;
  const lines: string[] = [
    escapeControl(`${document.timestamp}  ${host.hostname}  Driver ${host.driver_version ?? NA}  CUDA ${host.cuda_driver_version ?? NA}  NVML ${host.nvml_version ?? NA}`),
    "",
  ];
  const byIndex = [
    ...gpus.map((gpu) => ({ index: gpu.index, cells: gpu.parentUuid === null ? gpuRow(gpu, options.bars ?? false) : migRow(gpu, options.bars ?? false) })),
    ...document.errors.map((failure) => ({
      index: failure.index,
      cells: [String(failure.index), `unreadable (${failure.error.replace("NVML_ERROR_", "")})`, ...Array(10).fill(NA)],
    })),
  ].sort((a, b) => a.index - b.index);
  lines.push(
    renderTable(
      [
        { header: "GPU", align: "right" },
        { header: "Name" },
        { header: "Bus-Id" },
        { header: "Temp", align: "right" },
        { header: "Fan", align: "right" },
        { header: "Perf" },
        { header: "Power / Cap", align: "right" },
        { header: "Memory used / total", align: "right" },
        { header: "GPU", align: "right" },
        { header: "Mem", align: "right" },
        { header: "Clocks gr/mem", align: "right" },
        { header: "PCIe rx/tx", align: "right" },
      ],
      byIndex.map((row) => row.cells),
    ).trimEnd(),
  );
  for (const failure of document.errors) lines.push(escapeControl(failure.message));
  for (const gpu of gpus) {
    const health = healthLine(gpu);
    if (health) lines.push(escapeControl(`GPU ${gpu.index}: ${health}`));
  }
  const processRows = gpus.flatMap((gpu) =>
    gpu.processes === null
      ? [[deviceLabel(gpu), NA, "", processListProblem(gpu), "", "", ""]]
      : gpu.processes.map((p) => [
          deviceLabel(gpu),
          String(p.pid),
          PROCESS_TYPE_LETTER[p.kind],
          p.name ?? NA,
          mib(p.usedMemoryBytes),
          withUnit(p.smPercent, "%"),
          p.owner === null ? NA : (p.owner.user ?? (p.owner.note === NOT_IN_NAMESPACE ? "(other pid namespace)" : NA)),
        ]),
  );
  lines.push("");
  if (processRows.length === 0) {
    lines.push("No running processes found");
  } else {
    lines.push(
      renderTable(
        [
          { header: "GPU", align: "right" },
          { header: "PID", align: "right" },
          { header: "Type" },
          { header: "Process" },
          { header: "GPU memory", align: "right" },
          { header: "SM", align: "right" },
          { header: "User" },
        ],
        processRows,
      ).trimEnd(),
    );
  }
  return lines.join("\n") + "\n";
}

/** Why a GPU has no process list: NVML refused it (common in containers), or cannot give one. */
function processListProblem(gpu: GpuSample): string {
  const code = gpu.fieldErrors.compute_processes ?? gpu.fieldErrors.graphics_processes ?? gpu.fieldErrors.mps_processes;
  if (code === "NVML_ERROR_NO_PERMISSION") return "N/A (no permission)";
  return code ? `N/A (${code.replace("NVML_ERROR_", "").toLowerCase()})` : "N/A (not supported)";
}

/** What needs a look: clocks held back for a reason other than idling, remapped rows. Null when nothing does. */
function healthLine(gpu: GpuSample): string | null {
  const parts: string[] = [];
  const reasons = clockEventReasonNames(gpu.clockEventReasons ?? 0).filter((name) => name !== "gpu_idle");
  if (reasons.length > 0) parts.push(`clocks held back by ${reasons.join(", ")}`);
  const correctable = gpu.remappedRowsCorrectable ?? 0;
  const uncorrectable = gpu.remappedRowsUncorrectable ?? 0;
  if (correctable + uncorrectable > 0) parts.push(`remapped rows ${correctable} correctable, ${uncorrectable} uncorrectable`);
  if (gpu.remappedRowsPending) parts.push("a row remap is pending (reset the GPU to apply it)");
  if (gpu.remappedRowsFailure) parts.push("a row remap failed (the GPU needs service)");
  return parts.length > 0 ? parts.join("; ") : null;
}

/** A GPU by its index; a MIG device by its GPU's index and its GPU and compute instance ("0/2.0"). */
function deviceLabel(gpu: GpuSample): string {
  return gpu.parentUuid === null ? String(gpu.index) : `${gpu.index}/${gpu.gpuInstanceId ?? "?"}.${gpu.computeInstanceId ?? "?"}`;
}

/**
 * Where NVML measures no utilization (a GPU in MIG mode, a MIG device), GPM's
 * graphics engine and DRAM activity stand in the GPU and Mem columns.
 */
function activity(gpu: GpuSample): { gpu: number | null; memory: number | null } {
  return {
    gpu: gpu.gpuUtilizationPercent ?? gpu.gpm?.graphicsActivityPercent ?? null,
    memory: gpu.memoryUtilizationPercent ?? gpu.gpm?.dramActivityPercent ?? null,
  };
}

/** A MIG device as an indented row under its GPU: what it has of its own (memory, activity); the rest is the GPU's. */
function migRow(gpu: GpuSample, bars: boolean): string[] {
  const utilization = (percent: number | null) => (bars ? utilizationBar(percent) : withUnit(percent, "%"));
  const { gpu: busy, memory } = activity(gpu);
  return [
    "",
    `  └ MIG ${gpu.migProfile ?? NA} GI ${gpu.gpuInstanceId ?? NA} CI ${gpu.computeInstanceId ?? NA}`,
    gpu.uuid,
    "",
    "",
    "",
    "",
    `${mib(gpu.memoryUsedBytes)} / ${mib(gpu.memoryTotalBytes)}`,
    utilization(busy),
    utilization(memory),
    "",
    "",
  ];
}

function gpuRow(gpu: GpuSample, bars: boolean): string[] {
  const utilization = (percent: number | null) => (bars ? utilizationBar(percent) : withUnit(percent, "%"));
  const { gpu: busy, memory } = activity(gpu);
  const watts = (milliwatts: number | null) => (milliwatts === null ? null : milliwatts / 1000);
  return [
    String(gpu.index),
    gpu.name ?? NA,
    gpu.pciBusId ?? NA,
    withUnit(gpu.temperatureCelsius, "C"),
    withUnit(fanMean(gpu.fanSpeedsPercent), "%"),
    gpu.performanceState === null ? NA : `P${gpu.performanceState}`,
    `${withUnit(watts(gpu.powerUsageMilliwatts), "W", 1)} / ${withUnit(watts(gpu.powerLimitMilliwatts), "W", 0)}`,
    `${mib(gpu.memoryUsedBytes)} / ${mib(gpu.memoryTotalBytes)}`,
    utilization(busy),
    utilization(memory),
    gpu.graphicsClockMhz === null && gpu.memoryClockMhz === null ? NA : `${gpu.graphicsClockMhz ?? NA}/${gpu.memoryClockMhz ?? NA} MHz`,
    // MB/s, as nvidia-smi dmon shows rxpci/txpci; NVML gives KB/s.
    gpu.pcieRxKilobytesPerSecond === null && gpu.pcieTxKilobytesPerSecond === null
      ? NA
      : `${mbPerSecond(gpu.pcieRxKilobytesPerSecond)}/${mbPerSecond(gpu.pcieTxKilobytesPerSecond)} MB/s`,
  ];
}
