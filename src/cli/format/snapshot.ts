// `snapshot` output in its three formats.

import type { GpuRecord, SnapshotDocument } from "../../collect/record.ts";
import { ORIGINAL_FIELDS } from "../../query/records.ts";
import { toCsv, type CsvValue } from "./csv.ts";
import { renderTable } from "./table.ts";

export type SnapshotFormat = "json" | "csv" | "table";

export function renderSnapshot(document: SnapshotDocument, format: SnapshotFormat): string {
  switch (format) {
    case "json":
      return JSON.stringify(document, null, 2) + "\n";
    case "csv":
      return snapshotCsv(document);
    case "table":
      return snapshotTable(document);
  }
}

// ---- CSV ------------------------------------------------------------------

type ScalarKey = Exclude<keyof GpuRecord, "fan_speeds" | "clock_event_reason_names" | "processes" | "field_errors">;

/** Columns after `timestamp`, in record order; lists are joined with ";". */
export const SNAPSHOT_CSV_COLUMNS = [
  ...ORIGINAL_FIELDS,
  "index",
  "serial",
  "memory_free",
  "memory_reserved",
  "fan_speeds",
  "power_limit",
  "energy_consumption",
  "sm_clock",
  "performance_state",
  "clock_event_reasons",
  "clock_event_reason_names",
  "ecc_enabled",
  "ecc_errors_corrected",
  "ecc_errors_uncorrected",
  "encoder_utilization",
  "decoder_utilization",
  "pcie_link_generation",
  "pcie_link_width",
  "processes",
  "field_errors",
  "error",
] as const;

function csvCell(record: GpuRecord, column: (typeof SNAPSHOT_CSV_COLUMNS)[number]): CsvValue {
  switch (column) {
    case "fan_speeds":
      return record.fan_speeds?.join(";");
    case "clock_event_reason_names":
      return record.clock_event_reason_names?.join(";");
    case "processes":
      // pid:type:used_memory:name, type C (compute) or G (graphics) as nvidia-smi writes it
      return record.processes
        ?.map((p) => `${p.pid}:${p.type === "compute" ? "C" : "G"}:${p.used_memory ?? ""}:${p.name ?? ""}`)
        .join(";");
    case "field_errors":
      return record.field_errors
        ? Object.entries(record.field_errors)
            .map(([field, code]) => `${field}=${code}`)
            .join(";")
        : null;
    case "error":
      return null;
    default:
      return record[column as ScalarKey];
  }
}

function snapshotCsv(document: SnapshotDocument): string {
  const rows: CsvValue[][] = document.gpus.map((gpu) => [
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
const MIB = 1024 * 1024;

function mib(bytes: number | null): string {
  return bytes === null ? NA : `${Math.round(bytes / MIB)}MiB`;
}

function withUnit(value: number | null, unit: string, digits = 0): string {
  return value === null ? NA : `${value.toFixed(digits)}${unit}`;
}

function snapshotTable(document: SnapshotDocument): string {
  const host = document.host;
  const lines: string[] = [
    `${document.timestamp}  ${host.hostname}  Driver ${host.driver_version ?? NA}  CUDA ${host.cuda_driver_version ?? NA}  NVML ${host.nvml_version ?? NA}`,
    "",
  ];
  const byIndex = [
    ...document.gpus.map((gpu) => ({ index: gpu.index, cells: gpuRow(gpu) })),
    ...document.errors.map((failure) => ({
      index: failure.index,
      cells: [String(failure.index), `unreadable (${failure.error.replace("NVML_ERROR_", "")})`, ...Array(9).fill(NA)],
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
      ],
      byIndex.map((row) => row.cells),
    ).trimEnd(),
  );
  for (const failure of document.errors) lines.push(failure.message);
  const processRows = document.gpus.flatMap((gpu) =>
    (gpu.processes ?? []).map((p) => [
      String(gpu.index),
      String(p.pid),
      p.type === "compute" ? "C" : "G",
      p.name ?? NA,
      mib(p.used_memory),
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
        ],
        processRows,
      ).trimEnd(),
    );
  }
  return lines.join("\n") + "\n";
}

function gpuRow(gpu: GpuRecord): string[] {
  return [
    String(gpu.index),
    gpu.name ?? NA,
    gpu.pci_bus_id ?? NA,
    withUnit(gpu.temperature, "C"),
    withUnit(gpu.fan_speed, "%"),
    gpu.performance_state === null ? NA : `P${gpu.performance_state}`,
    `${withUnit(gpu.power_usage, "W", 1)} / ${withUnit(gpu.power_limit, "W", 0)}`,
    `${mib(gpu.memory_used)} / ${mib(gpu.memory_total)}`,
    withUnit(gpu.gpu_utilization, "%"),
    withUnit(gpu.memory_utilization, "%"),
    gpu.graphics_clock === null && gpu.memory_clock === null
      ? NA
      : `${gpu.graphics_clock ?? NA}/${gpu.memory_clock ?? NA} MHz`,
  ];
}
