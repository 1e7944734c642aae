// The output shapes, derived from the catalog: a live reading (snapshot), a
// stored sample (-sc, export) and a window (-sc of a window, export --level
// hourly, the upload body). The original tool's fields come first, in its order.
// Pure.

import type { GpuReading } from "../nvml/index.ts";
import type { ProcessListWindow, ProcessWindow, UserWindow } from "../store/processes.ts";
import { formatUtc } from "../util/time.ts";
import { METRICS, SAMPLE_METRICS, WINDOW_FIELDS, WINDOW_METRICS, type JsonObject, type Metric, type ShownValue } from "./catalog.ts";

/**
 * One output field over a run of records: the same value in all of them, or one
 * stored value per record, shown through `show`.
 */
export type Field =
  | { readonly name: string; readonly constant: ShownValue }
  | { readonly name: string; readonly column: ReadonlyArray<number | null>; readonly show: (stored: any) => ShownValue };

/** A GPU's identity values by GPU_METRICS name, as stored. */
export type GpuIdentity = Readonly<Record<string, string | number | null>>;

/** A live reading's fields, in catalog order (snapshot). */
export function readingFields(gpu: GpuReading): Array<[string, ShownValue]> {
  return METRICS.map((metric) => [metric.name, metric.show(metric.read(gpu))]);
}

/** Where a stored sample field's values are: SAMPLE_METRICS index by column. */
const SAMPLE_INDEX = new Map(SAMPLE_METRICS.map((metric, index) => [metric.column!, index]));

/** A stored sample's fields, in catalog order: every metric but those snapshot alone shows. */
export const RAW_METRICS: readonly Metric[] = METRICS.filter((metric) => !metric.snapshotOnly);

/** The fields of one GPU's stored samples, over `columns` (one value array per SAMPLE_METRICS entry). */
export function rawFields(identity: GpuIdentity, columns: ReadonlyArray<ReadonlyArray<number | null>>): Field[] {
  return RAW_METRICS.map((metric) =>
    metric.gpuColumn
      ? { name: metric.name, constant: metric.show(identity[metric.gpuColumn] ?? null) }
      : { name: metric.name, column: columns[SAMPLE_INDEX.get(metric.column!)!]!, show: metric.show },
  );
}

/** One GPU's stored summary of a window, with values by stored column name. */
export interface WindowSummary {
  sampleCount: number;
  coverage: number;
  values: Readonly<Record<string, number | string | null>>;
}

/** Averages keep three decimals (of the shown unit): enough for mW in watts, short enough to read. */
function average(metric: Metric, stored: number | null): number | null {
  const shown = metric.show(stored) as number | null;
  return shown === null ? null : Math.round(shown * 1000) / 1000;
}

/**
 * A window's record of one GPU: the original fields as the window's averages
 * (identities as they are), then each original gauge's `_min` and `_max`,
 * `sample_count`, `coverage`, each counter's increase, every other field in
 * catalog order, a gauge with its `_min` and `_max`, then the window fields
 * (usage over the interval and health). `include` picks the metrics
 * (those in a window's output, or those uploaded).
 */
export function windowEntries(identity: GpuIdentity, summary: WindowSummary, include: (metric: Metric) => boolean): Array<[string, ShownValue]> {
  const entries: Array<[string, ShownValue]> = [];
  const values = summary.values;
  const picked = METRICS.filter((metric) => include(metric) && (metric.gpuColumn !== null || WINDOW_METRICS.includes(metric)));
  const value = (metric: Metric): ShownValue =>
    metric.gpuColumn
      ? metric.show(identity[metric.gpuColumn] ?? null)
      : metric.kind === "counter"
        ? metric.show(values[metric.column!] ?? null)
        : average(metric, (values[metric.column!] as number | null) ?? null);
  const extremes = (metric: Metric) => {
    entries.push([`${metric.name}_min`, metric.show(values[`${metric.column}_min`] ?? null)]);
    entries.push([`${metric.name}_max`, metric.show(values[`${metric.column}_max`] ?? null)]);
  };
  const original = picked.filter((metric) => metric.original);
  for (const metric of original) entries.push([metric.name, value(metric)]);
  for (const metric of original) if (metric.kind === "gauge") extremes(metric);
  entries.push(["sample_count", summary.sampleCount]);
  entries.push(["coverage", Math.round(summary.coverage * 10000) / 10000]);
  const others = picked.filter((metric) => !metric.original);
  for (const metric of others) if (metric.kind === "counter") entries.push([metric.name, value(metric)]);
  for (const metric of others) {
    if (metric.kind === "counter") continue;
    entries.push([metric.name, value(metric)]);
    if (metric.kind === "gauge") extremes(metric);
  }
  for (const field of WINDOW_FIELDS) entries.push([field.name, field.show(values[field.column] ?? null)]);
  return entries;
}

/** The metrics of a window's output (-sc of a window, export --level hourly). */
export const inWindowOutput = (metric: Metric): boolean => metric.inWindow;

// ---- who used the GPU ---------------------------------------------------------


/** The names a window record adds after its metrics: who used the GPU, and a refused process list. */
export const ATTRIBUTION_FIELDS = ["processes", "users", "field_errors"] as const;

const seconds = (value: number | null): number | null => (value === null ? null : Math.round(value * 1000) / 1000);

/** A process's use of a GPU over a window, as every output shows it. */
export function processEntry(row: ProcessWindow): JsonObject {
  return {
    pid: row.pid,
    name: row.name,
    user: row.user,
    uid: row.uid,
    container_id: row.containerId,
    pod_uid: row.podUid,
    started_at: row.startedAt === null ? null : formatUtc(row.startedAt),
    gpu_seconds: row.gpuSeconds,
    sm_seconds: seconds(row.smSeconds),
    memory_max: row.memoryMax,
    first_seen: formatUtc(row.firstSeen),
    last_seen: formatUtc(row.lastSeen),
    note: row.note,
  };
}

export function userEntry(row: UserWindow): JsonObject {
  return { user: row.user, gpu_seconds: row.gpuSeconds, sm_seconds: seconds(row.smSeconds), memory_max: row.memoryMax };
}

/**
 * A window record's attribution entries for one GPU: its processes and users
 * (null when no list was read in the window: processes off, or NVML refused it,
 * which field_errors then names).
 */
export function attributionEntries(
  list: ProcessListWindow | undefined,
  processes: readonly ProcessWindow[],
  users: readonly UserWindow[],
): Array<[(typeof ATTRIBUTION_FIELDS)[number], ShownValue]> {
  const listed = list !== undefined && list.listedSeconds > 0;
  const refused = list?.refusedCode ? { processes: list.refusedCode } : null;
  return [
    ["processes", listed ? processes.map(processEntry) : null],
    ["users", listed ? users.map(userEntry) : null],
    ["field_errors", refused],
  ];
}
