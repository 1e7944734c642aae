// The metric catalog: every metric declared once. Snapshot, the stored columns
// and blocks, window aggregation, -sc/export, the upload body and the schema's
// later migrations are all generic over this list. Adding a metric is an entry
// here, its read in src/nvml, and (for a stored one) a `since` one past the
// newest, which makes the migration that adds its columns.
//
// Units: a value is stored as NVML gives it (mW, mJ, bytes, KB/s) and converted
// only where it is shown.

import { clockEventReasonNames, type GpuReading } from "../nvml/index.ts";

/** What a value means, which decides how a window summarises it. */
export type MetricKind =
  /** Fixed while the GPU is installed: kept once per GPU, not per sample. */
  | "identity"
  /** A level: a window gets its time-ordered average, minimum and maximum. */
  | "gauge"
  /** Grows monotonically (resets when the driver reloads): a window gets its increase. */
  | "counter"
  /** A state or a bit mask of reasons: stored per sample, not summarised. */
  | "state"
  /** Several values at once (one per fan, the names of a mask's bits): shown, never stored as such. */
  | "list";

export type Unit = "" | "%" | "C" | "MHz" | "bytes" | "mW" | "W" | "mJ" | "KB/s";

export type ShownValue = string | number | boolean | null | readonly string[] | readonly number[];

export interface Metric {
  /** The name in every output: snapshot, -sc, export, the upload body. */
  readonly name: string;
  readonly kind: MetricKind;
  readonly storedUnit: Unit;
  readonly shownUnit: Unit;
  /** One of the original tool's twelve fields (they come first, in their order). */
  readonly original: boolean;
  /** Per-sample column in `samples` and `sample_blocks` (and, for a gauge or counter, in `aggregates`). */
  readonly column: string | null;
  /** Column of the `gpus` table, for identities. */
  readonly gpuColumn: string | null;
  /** Schema version whose migration added the column (1 to 4: the hand-written ones). */
  readonly since: number;
  /** Printed by snapshot only (read live, never stored). */
  readonly snapshotOnly: boolean;
  /** Part of a window's record (-sc of a window, export --level hourly). */
  readonly inWindow: boolean;
  /** Part of the upload body's GPU records. */
  readonly upload: boolean;
  /** An identity a GPU may not give every time (NOT_SUPPORTED now and then): a missing value keeps the one stored. */
  readonly keepLastKnown: boolean;
  /**
   * In a compacted block, stored as the sum with another metric's value (name of
   * the block column, and the other metric's column): free + used memory is the
   * GPU's usable memory, constant while it is installed, so the column shrinks to
   * a few bytes.
   */
  readonly blockSum: { readonly blockColumn: string; readonly plus: string } | null;
  /** dcgm-exporter's field name, for the Prometheus endpoint. */
  readonly exporter: string | null;
  /** The stored value from a reading (before any unit conversion). */
  readonly read: (gpu: GpuReading) => number | string | null | readonly number[];
  /** The shown value from the stored one (null stays null); by default the unit conversion. */
  readonly show: (stored: any) => ShownValue;
}

type Declaration = Pick<Metric, "name" | "kind" | "read"> & Partial<Omit<Metric, "name" | "kind" | "read">> & { storedUnit?: Unit };

/** The show of a value shown as it is stored (a writer may skip calling it). */
export const AS_STORED = <T>(stored: T): T => stored;

/** Stored to shown, as a factor: only a power changes its unit on the way out. */
const CONVERSIONS: Partial<Record<`${Unit}>${Unit}`, number>> = { "mW>W": 1 / 1000 };

function conversion(stored: Unit, shown: Unit): (value: number | null) => number | null {
  if (stored === shown) return AS_STORED;
  const factor = CONVERSIONS[`${stored}>${shown}`];
  if (factor === undefined) throw new Error(`no conversion from ${stored} to ${shown}`);
  // Dividing by 1000 (not multiplying by 0.001) keeps 512340 mW exactly 512.34 W.
  return (value) => (value === null ? null : value / (1 / factor));
}

function declare(declaration: Declaration): Metric {
  const storedUnit = declaration.storedUnit ?? "";
  const shownUnit = declaration.shownUnit ?? storedUnit;
  const kind = declaration.kind;
  const stored = kind !== "list" && !declaration.snapshotOnly;
  return {
    original: false,
    column: stored && kind !== "identity" ? declaration.name : null,
    gpuColumn: stored && kind === "identity" ? declaration.name : null,
    since: 1,
    snapshotOnly: false,
    inWindow: kind === "gauge" || kind === "counter",
    upload: kind === "gauge" || kind === "counter",
    exporter: null,
    keepLastKnown: false,
    blockSum: null,
    show: conversion(storedUnit, shownUnit),
    ...declaration,
    storedUnit,
    shownUnit,
  };
}

const reasonNamesByMask = new Map<number, readonly string[]>();
/** A mask's names, one frozen list per mask: a GPU shows a handful of masks in an hour. */
function reasonNames(mask: number | null): readonly string[] | null {
  if (mask === null) return null;
  let names = reasonNamesByMask.get(mask);
  if (!names) reasonNamesByMask.set(mask, (names = Object.freeze(clockEventReasonNames(mask))));
  return names;
}

/** One figure for all fans, as a whole percent: their mean (a single fan's own speed). */
export function fanMean(speeds: readonly number[] | null): number | null {
  if (!speeds || speeds.length === 0) return null;
  return Math.round(speeds.reduce((sum, speed) => sum + speed, 0) / speeds.length);
}

/** Every metric, in output order: the original tool's twelve first, then ours. */
export const METRICS: readonly Metric[] = [
  declare({ name: "uid", kind: "identity", original: true, upload: true, inWindow: true, read: (gpu) => gpu.uuid }),
  declare({ name: "pci_bus_id", kind: "identity", original: true, upload: true, inWindow: true, read: (gpu) => gpu.pciBusId }),
  declare({ name: "name", kind: "identity", original: true, upload: true, inWindow: true, read: (gpu) => gpu.name }),
  declare({ name: "temperature", kind: "gauge", storedUnit: "C", original: true, exporter: "DCGM_FI_DEV_GPU_TEMP", read: (gpu) => gpu.temperatureCelsius }),
  declare({ name: "memory_used", kind: "gauge", storedUnit: "bytes", original: true, exporter: "DCGM_FI_DEV_FB_USED", read: (gpu) => gpu.memoryUsedBytes }),
  declare({
    name: "memory_total",
    kind: "identity",
    storedUnit: "bytes",
    original: true,
    upload: true,
    inWindow: true,
    keepLastKnown: true,
    read: (gpu) => gpu.memoryTotalBytes,
  }),
  declare({ name: "gpu_utilization", kind: "gauge", storedUnit: "%", original: true, exporter: "DCGM_FI_DEV_GPU_UTIL", read: (gpu) => gpu.gpuUtilizationPercent }),
  declare({
    name: "memory_utilization",
    kind: "gauge",
    storedUnit: "%",
    original: true,
    exporter: "DCGM_FI_DEV_MEM_COPY_UTIL",
    read: (gpu) => gpu.memoryUtilizationPercent,
  }),
  declare({
    name: "power_usage",
    kind: "gauge",
    storedUnit: "mW",
    shownUnit: "W",
    original: true,
    column: "power_mw",
    exporter: "DCGM_FI_DEV_POWER_USAGE",
    read: (gpu) => gpu.powerUsageMilliwatts,
  }),
  declare({ name: "fan_speed", kind: "gauge", storedUnit: "%", original: true, exporter: "DCGM_FI_DEV_FAN_SPEED", read: (gpu) => fanMean(gpu.fanSpeedsPercent) }),
  declare({ name: "graphics_clock", kind: "gauge", storedUnit: "MHz", original: true, read: (gpu) => gpu.graphicsClockMhz }),
  declare({ name: "memory_clock", kind: "gauge", storedUnit: "MHz", original: true, exporter: "DCGM_FI_DEV_MEM_CLOCK", read: (gpu) => gpu.memoryClockMhz }),
  declare({ name: "index", kind: "identity", snapshotOnly: true, upload: false, read: (gpu) => gpu.index }),
  declare({ name: "serial", kind: "identity", upload: true, inWindow: true, read: (gpu) => gpu.serial }),
  declare({
    name: "memory_free",
    kind: "gauge",
    storedUnit: "bytes",
    exporter: "DCGM_FI_DEV_FB_FREE",
    blockSum: { blockColumn: "memory_free_plus_used", plus: "memory_used" },
    read: (gpu) => gpu.memoryFreeBytes,
  }),
  declare({
    name: "memory_reserved",
    kind: "identity",
    storedUnit: "bytes",
    upload: false,
    keepLastKnown: true,
    exporter: "DCGM_FI_DEV_FB_RESERVED",
    read: (gpu) => gpu.memoryReservedBytes,
  }),
  declare({ name: "fan_speeds", kind: "list", storedUnit: "%", snapshotOnly: true, read: (gpu) => gpu.fanSpeedsPercent, show: AS_STORED }),
  declare({ name: "power_limit", kind: "gauge", storedUnit: "mW", shownUnit: "W", column: "power_limit_mw", read: (gpu) => gpu.powerLimitMilliwatts }),
  declare({
    name: "energy_consumption",
    kind: "counter",
    storedUnit: "mJ",
    column: "energy_mj",
    exporter: "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
    read: (gpu) => gpu.energyMillijoules,
  }),
  declare({ name: "sm_clock", kind: "gauge", storedUnit: "MHz", exporter: "DCGM_FI_DEV_SM_CLOCK", read: (gpu) => gpu.smClockMhz }),
  declare({ name: "performance_state", kind: "state", read: (gpu) => gpu.performanceState }),
  declare({ name: "clock_event_reasons", kind: "state", exporter: "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS", read: (gpu) => gpu.clockEventReasons }),
  declare({
    name: "clock_event_reason_names",
    kind: "list",
    column: "clock_event_reasons",
    read: (gpu) => gpu.clockEventReasons,
    show: reasonNames,
  }),
  declare({
    name: "ecc_enabled",
    kind: "identity",
    upload: false,
    keepLastKnown: true,
    read: (gpu) => (gpu.eccEnabled === null ? null : gpu.eccEnabled ? 1 : 0),
    show: (stored: number | null) => (stored === null ? null : stored === 1),
  }),
  declare({ name: "ecc_errors_corrected", kind: "state", exporter: "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", read: (gpu) => gpu.eccErrorsCorrected }),
  declare({ name: "ecc_errors_uncorrected", kind: "state", exporter: "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", read: (gpu) => gpu.eccErrorsUncorrected }),
  declare({ name: "encoder_utilization", kind: "gauge", storedUnit: "%", exporter: "DCGM_FI_DEV_ENC_UTIL", read: (gpu) => gpu.encoderUtilizationPercent }),
  declare({ name: "decoder_utilization", kind: "gauge", storedUnit: "%", exporter: "DCGM_FI_DEV_DEC_UTIL", read: (gpu) => gpu.decoderUtilizationPercent }),
  declare({ name: "pcie_link_generation", kind: "state", read: (gpu) => gpu.pcieLinkGeneration }),
  declare({ name: "pcie_link_width", kind: "state", read: (gpu) => gpu.pcieLinkWidth }),
  declare({
    name: "pcie_tx_throughput",
    kind: "gauge",
    storedUnit: "KB/s",
    since: 5,
    exporter: "DCGM_FI_DEV_PCIE_TX_THROUGHPUT",
    read: (gpu) => gpu.pcieTxKilobytesPerSecond,
  }),
  declare({
    name: "pcie_rx_throughput",
    kind: "gauge",
    storedUnit: "KB/s",
    since: 5,
    exporter: "DCGM_FI_DEV_PCIE_RX_THROUGHPUT",
    read: (gpu) => gpu.pcieRxKilobytesPerSecond,
  }),
];

/** Metrics with a column per sample, in catalog order: the order of every column array in the store. */
export const SAMPLE_METRICS: readonly Metric[] = METRICS.filter((metric) => metric.column !== null && metric.kind !== "list");

/** Metrics kept per GPU in the `gpus` table. */
export const GPU_METRICS: readonly Metric[] = METRICS.filter((metric) => metric.gpuColumn !== null);

/** The metrics a window summarises: gauges (average, minimum, maximum) and counters (increase). */
export const WINDOW_METRICS: readonly Metric[] = SAMPLE_METRICS.filter((metric) => metric.kind === "gauge" || metric.kind === "counter");

/** A metric's position in a sample's column arrays. */
export function sampleColumnIndex(column: string): number {
  const index = SAMPLE_METRICS.findIndex((metric) => metric.column === column);
  if (index < 0) throw new Error(`no sample column ${column}`);
  return index;
}

/** The stored values of one reading, in SAMPLE_METRICS order. */
export function sampleValues(gpu: GpuReading): Array<number | null> {
  return SAMPLE_METRICS.map((metric) => metric.read(gpu) as number | null);
}

/** The per-GPU values of one reading, in GPU_METRICS order. */
export function gpuValues(gpu: GpuReading): Array<string | number | null> {
  return GPU_METRICS.map((metric) => metric.read(gpu) as string | number | null);
}
