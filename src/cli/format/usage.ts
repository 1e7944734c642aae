// `usage` output: a table that fits 80 columns for people, and JSON or CSV rows
// with exact seconds for billing tools. Pure.

import type { UsageRow, UsageSummary } from "../../query/usage.ts";
import { toCsv, type CsvValue } from "../../util/csv.ts";
import { formatTime } from "../../util/time.ts";
import { renderTable } from "./table.ts";

const KEY_HEADER = { gpu: "gpu", user: "user", process: "pid", container: "container_id", pod: "pod_uid" } as const;
const TABLE_KEY_HEADER = { gpu: "GPU", user: "USER", process: "PID", container: "CONTAINER", pod: "POD" } as const;
/** The table's second column: a GPU's model, a process's name, else how its energy was apportioned. */
const LABEL_HEADER = { gpu: "Model", user: "kWh by", process: "Process", container: "kWh by", pod: "kWh by" } as const;

/** The columns after the key that mean something for the grouping: a GPU's model; a process's name, user and start. */
const DETAIL_COLUMNS = { gpu: ["name"], user: [], process: ["name", "user", "started_at"], container: [], pod: [] } as const;

/** A row's fields for JSON and CSV, in column order: the same columns for every row of a grouping, the total's too. */
function fields(summary: UsageSummary, row: UsageRow): Record<string, CsvValue> {
  const key = summary.by === "process" && /^\d+$/.test(row.key) ? Number(row.key) : row.key;
  const detail = Object.fromEntries(DETAIL_COLUMNS[summary.by].map((column) => [column, column === "name" ? row.label : (row.detail?.[column] ?? null)]));
  return {
    [KEY_HEADER[summary.by]]: key,
    ...detail,
    gpu_seconds: row.gpuSeconds,
    gpu_hours: hours(row.gpuSeconds),
    busy_seconds: row.busySeconds,
    busy_gpu_hours: row.busySeconds === null ? null : hours(row.busySeconds),
    energy_kwh: row.energyMj === null ? null : kilowattHours(row.energyMj),
    energy_basis: row.energyBasis,
    utilization_avg: row.utilizationAverage,
    memory_peak_bytes: row.memoryPeakBytes,
    windows: row.windows,
    // A MIG device's GPU: only GPUs have one.
    ...(summary.by === "gpu" ? { parent_gpu: row.parent } : {}),
  };
}

export function usageJson(summary: UsageSummary): string {
  const document = {
    from: formatTime(summary.from),
    to: formatTime(summary.to),
    by: summary.by,
    rows: summary.rows.map((row) => fields(summary, row)),
    total: fields(summary, summary.total),
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}

/** One line per group; the total is left to the spreadsheet. */
export function usageCsv(summary: UsageSummary): string {
  const rows = summary.rows.map((row) => fields(summary, row));
  const header = Object.keys(fields(summary, summary.total));
  return toCsv(header, rows.map((row) => header.map((name) => row[name])));
}

export function usageTable(summary: UsageSummary): string {
  const heading = `Usage from ${formatTime(summary.from)} to ${formatTime(summary.to)}, by ${summary.by}\n\n`;
  if (summary.rows.length === 0) return `${heading}No windows in this range.\n`;
  const line = (row: UsageRow, key: string, label: string) => [
    key,
    label,
    fixed(hours(row.gpuSeconds), 2),
    row.busySeconds === null ? "-" : fixed(hours(row.busySeconds), 2),
    row.energyMj === null ? "-" : kilowattHoursText(kilowattHours(row.energyMj)),
    row.utilizationAverage === null ? "-" : fixed(row.utilizationAverage, 1),
    row.memoryPeakBytes === null ? "-" : `${fixed(row.memoryPeakBytes / 2 ** 30, 1)} GiB`,
  ];
  const label = (row: UsageRow) => (LABEL_HEADER[summary.by] === "kWh by" ? (row.energyBasis?.replace("_", " ") ?? "-") : (row.label ?? ""));
  // A MIG device indented under its GPU.
  const rows = summary.rows.map((row) => line(row, `${row.parent === null ? "" : "└ "}${shortKey(row.key, summary.by)}`, clip(label(row), LABEL_WIDTH)));
  rows.push(line(summary.total, "total", ""));
  const columns = [
    { header: TABLE_KEY_HEADER[summary.by] },
    { header: LABEL_HEADER[summary.by] },
    { header: "GPU-h", align: "right" as const },
    { header: "Busy-h", align: "right" as const },
    { header: "kWh", align: "right" as const },
    { header: "Util %", align: "right" as const },
    { header: "Peak mem", align: "right" as const },
  ];
  return heading + renderTable(columns, rows);
}

function hours(seconds: number): number {
  return Math.round((seconds / 3600) * 1e6) / 1e6;
}

function kilowattHours(millijoules: number): number {
  return Math.round((millijoules / 3.6e9) * 1e6) / 1e6;
}

/** The table's label column (a GPU's model, a process's name, the energy basis). */
const LABEL_WIDTH = 16;

/**
 * Watt-hours where they matter, fewer decimals where the figure is large: at most 6
 * characters up to 999,999 kWh, so a year of 8 big GPUs (70080.00 GPU-h, 49056 kWh,
 * 141.0 GiB) with MIG rows still fits 80 columns.
 */
function kilowattHoursText(kilowattHours: number): string {
  return kilowattHours.toFixed(kilowattHours >= 10_000 ? 0 : kilowattHours >= 100 ? 1 : 3);
}

function fixed(value: number, digits: number): string {
  return value.toFixed(digits);
}

/** A GPU's or MIG device's UUID cut to its first 8 hex digits (the part nvidia-smi users recognise). */
function shortKey(key: string, by: UsageSummary["by"]): string {
  if (by === "container" && /^[0-9a-f]{64}$/.test(key)) return key.slice(0, 12); // as docker ps shows it
  return /^(GPU|MIG)-/.test(key) && key.length > 12 ? `${key.slice(0, 12)}…` : clip(key, 13);
}

function clip(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}
