// Stored rows in the output shapes of the original tool: its fields first, in
// its order and units (power in watts), ours after them.

import { clockEventReasonNames } from "../nvml/index.ts";
import { AGGREGATED_METRICS, type AggregatedMetric } from "../store/schema.ts";
import type { SampleColumn } from "../store/sampleBlocks.ts";
import type { GpuIdentity, StoredAggregateRow, StoredSampleRow } from "../store/store.ts";

export const ORIGINAL_FIELDS = [
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
] as const;

export type OutputRecord = Record<string, string | number | boolean | null | string[]>;

type FieldValue = OutputRecord[string];

/** A mask's reason names, one frozen list per mask: a GPU shows a handful of masks over an hour of samples. */
const reasonNamesByMask = new Map<number, readonly string[]>();
function reasonNames(mask: number): string[] {
  let names = reasonNamesByMask.get(mask);
  if (!names) reasonNamesByMask.set(mask, (names = Object.freeze(clockEventReasonNames(mask))));
  return names as string[];
}

/**
 * A raw record's fields in output order: the original tool's first, then ours.
 * `perGpu` fields depend only on the GPU, so a writer can render them once per
 * GPU; the others show one stored column of the sample: as stored, in watts
 * (stored in mW), or as the names of the reasons' bits.
 */
export type SampleShow = "number" | "watts" | "reasonNames";

export type RawField =
  | { name: string; perGpu: true; value: (gpu: GpuIdentity) => FieldValue }
  | { name: string; perGpu: false; column: SampleColumn; show: SampleShow };

const sample = (name: string, column: SampleColumn = name as SampleColumn, show: SampleShow = "number"): RawField => ({
  name,
  perGpu: false,
  column,
  show,
});

export const RAW_FIELDS: readonly RawField[] = [
  { name: "uid", perGpu: true, value: (gpu) => gpu.uid },
  { name: "pci_bus_id", perGpu: true, value: (gpu) => gpu.pci_bus_id },
  { name: "name", perGpu: true, value: (gpu) => gpu.name },
  sample("temperature"),
  sample("memory_used"),
  { name: "memory_total", perGpu: true, value: (gpu) => gpu.memory_total },
  sample("gpu_utilization"),
  sample("memory_utilization"),
  sample("power_usage", "power_mw", "watts"),
  sample("fan_speed"),
  sample("graphics_clock"),
  sample("memory_clock"),
  { name: "serial", perGpu: true, value: (gpu) => gpu.serial },
  sample("memory_free"),
  { name: "memory_reserved", perGpu: true, value: (gpu) => gpu.memory_reserved },
  sample("power_limit", "power_limit_mw", "watts"),
  sample("energy_consumption", "energy_mj"),
  sample("sm_clock"),
  sample("performance_state"),
  sample("clock_event_reasons"),
  sample("clock_event_reason_names", "clock_event_reasons", "reasonNames"),
  { name: "ecc_enabled", perGpu: true, value: (gpu) => (gpu.ecc_enabled === null ? null : gpu.ecc_enabled === 1) },
  sample("ecc_errors_corrected"),
  sample("ecc_errors_uncorrected"),
  sample("encoder_utilization"),
  sample("decoder_utilization"),
  sample("pcie_link_generation"),
  sample("pcie_link_width"),
];

/** A sample field's value as output shows it, from its stored column's value. */
export function sampleFieldValue(show: SampleShow, stored: number | null): FieldValue {
  if (stored === null) return null;
  return show === "watts" ? stored / 1000 : show === "reasonNames" ? reasonNames(stored) : stored;
}

export function rawRecord(row: StoredSampleRow): OutputRecord {
  const record: OutputRecord = {};
  // A stored row carries both its sample and its GPU's identity, so every field reads from it.
  for (const field of RAW_FIELDS) record[field.name] = field.perGpu ? field.value(row) : sampleFieldValue(field.show, row[field.column]);
  return record;
}

/** Output name of each aggregated metric; power is stored in mW and shown in W. */
const OUTPUT_NAME: Record<AggregatedMetric, string> = {
  temperature: "temperature",
  memory_used: "memory_used",
  memory_free: "memory_free",
  gpu_utilization: "gpu_utilization",
  memory_utilization: "memory_utilization",
  power_mw: "power_usage",
  power_limit_mw: "power_limit",
  fan_speed: "fan_speed",
  graphics_clock: "graphics_clock",
  sm_clock: "sm_clock",
  memory_clock: "memory_clock",
  encoder_utilization: "encoder_utilization",
  decoder_utilization: "decoder_utilization",
};

const ORIGINAL_AGGREGATED: readonly AggregatedMetric[] = [
  "temperature",
  "memory_used",
  "gpu_utilization",
  "memory_utilization",
  "power_mw",
  "fan_speed",
  "graphics_clock",
  "memory_clock",
];

/** Averages keep three decimals: enough for mW in watts, short enough to read. */
function average(value: number | string | null | undefined, metric: AggregatedMetric): number | null {
  if (typeof value !== "number") return null;
  const scaled = metric.endsWith("_mw") ? value / 1000 : value;
  return Math.round(scaled * 1000) / 1000;
}

function extreme(value: number | string | null | undefined, metric: AggregatedMetric): number | null {
  if (typeof value !== "number") return null;
  return metric.endsWith("_mw") ? value / 1000 : value;
}

/**
 * One GPU's aggregate: the original fields hold the window's averages (memory_total
 * is the GPU's), then `_min`/`_max` of each, sample_count, coverage, the energy
 * used in the window, and the other metrics.
 */
export function aggregateRecord(row: StoredAggregateRow): OutputRecord {
  const record: OutputRecord = {
    uid: row.uid,
    pci_bus_id: row.pci_bus_id,
    name: row.name,
  };
  for (const field of ORIGINAL_FIELDS.slice(3)) {
    if (field === "memory_total") {
      record.memory_total = row.memory_total;
      continue;
    }
    const metric = (Object.keys(OUTPUT_NAME) as AggregatedMetric[]).find((m) => OUTPUT_NAME[m] === field)!;
    record[field] = average(row[metric], metric);
  }
  for (const metric of ORIGINAL_AGGREGATED) {
    record[`${OUTPUT_NAME[metric]}_min`] = extreme(row[`${metric}_min`], metric);
    record[`${OUTPUT_NAME[metric]}_max`] = extreme(row[`${metric}_max`], metric);
  }
  record.sample_count = row.sample_count;
  record.coverage = Math.round(row.coverage * 10000) / 10000;
  record.energy_consumption = row.energy_mj;
  record.serial = row.serial;
  for (const metric of AGGREGATED_METRICS) {
    if (ORIGINAL_AGGREGATED.includes(metric)) continue;
    record[OUTPUT_NAME[metric]] = average(row[metric], metric);
    record[`${OUTPUT_NAME[metric]}_min`] = extreme(row[`${metric}_min`], metric);
    record[`${OUTPUT_NAME[metric]}_max`] = extreme(row[`${metric}_max`], metric);
  }
  return record;
}
