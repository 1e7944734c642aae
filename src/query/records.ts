// Stored rows in the output shapes of the original tool: its fields first, in
// its order and units (power in watts), ours after them.

import { clockEventReasonNames } from "../nvml/index.ts";
import { AGGREGATED_METRICS, type AggregatedMetric } from "../store/schema.ts";
import type { StoredAggregateRow, StoredSampleRow } from "../store/store.ts";

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

const watts = (milliwatts: number | null) => (milliwatts === null ? null : milliwatts / 1000);

export function rawRecord(row: StoredSampleRow): OutputRecord {
  return {
    uid: row.uid,
    pci_bus_id: row.pci_bus_id,
    name: row.name,
    temperature: row.temperature,
    memory_used: row.memory_used,
    memory_total: row.memory_total,
    gpu_utilization: row.gpu_utilization,
    memory_utilization: row.memory_utilization,
    power_usage: watts(row.power_mw),
    fan_speed: row.fan_speed,
    graphics_clock: row.graphics_clock,
    memory_clock: row.memory_clock,
    serial: row.serial,
    memory_free: row.memory_free,
    memory_reserved: row.memory_reserved,
    power_limit: watts(row.power_limit_mw),
    energy_consumption: row.energy_mj,
    sm_clock: row.sm_clock,
    performance_state: row.performance_state,
    clock_event_reasons: row.clock_event_reasons,
    clock_event_reason_names: row.clock_event_reasons === null ? null : clockEventReasonNames(row.clock_event_reasons),
    ecc_enabled: row.ecc_enabled === null ? null : row.ecc_enabled === 1,
    ecc_errors_corrected: row.ecc_errors_corrected,
    ecc_errors_uncorrected: row.ecc_errors_uncorrected,
    encoder_utilization: row.encoder_utilization,
    decoder_utilization: row.decoder_utilization,
    pcie_link_generation: row.pcie_link_generation,
    pcie_link_width: row.pcie_link_width,
  };
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
