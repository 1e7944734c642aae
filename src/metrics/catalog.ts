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
  /** Shown, never stored as such: several values at once (one per fan, a mask's names) or a word for a stored number. */
  | "list";

export type Unit = "" | "%" | "0.01%" | "C" | "MHz" | "bytes" | "mW" | "W" | "mJ" | "KB/s" | "ms" | "s";

/** A JSON object a window field shows (an XID, the seconds per clock-event reason). */
export type JsonObject = Readonly<Record<string, unknown>>;

export type ShownValue = string | number | boolean | null | readonly string[] | readonly number[] | JsonObject | readonly JsonObject[];

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
const CONVERSIONS: Partial<Record<`${Unit}>${Unit}`, number>> = { "mW>W": 1 / 1000, "ms>s": 1 / 1000, "0.01%>%": 1 / 100 };

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

/** A stored 0/1 as a boolean. */
const asBoolean = (stored: number | null): boolean | null => (stored === null ? null : stored !== 0);
const storedBoolean = (value: boolean | null): number | null => (value === null ? null : value ? 1 : 0);

/** A GPM percentage (a double) stored as a whole number of hundredths: integers keep blocks compact. */
const hundredths = (percent: number | null | undefined): number | null => (percent === null || percent === undefined ? null : Math.round(percent * 100));

/** How a sample's GPU utilization was obtained: "samples" (the driver's, averaged over the interval) or "point" (this instant). */
export function utilizationSource(samples: number | null): "samples" | "point" | null {
  return samples === null ? null : samples > 0 ? "samples" : "point";
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
  declare({
    name: "utilization_source",
    kind: "list",
    column: "utilization_samples",
    read: (gpu) => (gpu.gpuUtilizationPercent === null ? null : gpu.utilizationSamples),
    show: utilizationSource,
  }),
  declare({
    name: "utilization_samples",
    kind: "state",
    since: 6,
    read: (gpu) => (gpu.gpuUtilizationPercent === null ? null : gpu.utilizationSamples),
  }),
  declare({ name: "busy_seconds", kind: "state", storedUnit: "ms", shownUnit: "s", column: "busy_ms", since: 6, read: (gpu) => gpu.busyMilliseconds }),
  declare({
    name: "remapped_rows_correctable",
    kind: "state",
    since: 6,
    exporter: "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS",
    read: (gpu) => gpu.remappedRowsCorrectable,
  }),
  declare({
    name: "remapped_rows_uncorrectable",
    kind: "state",
    since: 6,
    exporter: "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS",
    read: (gpu) => gpu.remappedRowsUncorrectable,
  }),
  declare({
    name: "remapped_rows_pending",
    kind: "state",
    since: 6,
    exporter: "DCGM_FI_DEV_ROW_REMAP_PENDING",
    read: (gpu) => storedBoolean(gpu.remappedRowsPending),
    show: asBoolean,
  }),
  declare({
    name: "remapped_rows_failure",
    kind: "state",
    since: 6,
    exporter: "DCGM_FI_DEV_ROW_REMAP_FAILURE",
    read: (gpu) => storedBoolean(gpu.remappedRowsFailure),
    show: asBoolean,
  }),
  // MIG: a MIG device is a device of its own (uid MIG-...) that names its GPU.
  declare({ name: "parent_uid", kind: "identity", since: 8, upload: true, inWindow: true, read: (gpu) => gpu.parentUuid }),
  declare({ name: "mig_profile", kind: "identity", since: 8, upload: true, inWindow: true, read: (gpu) => gpu.migProfile }),
  declare({ name: "gpu_instance_id", kind: "identity", since: 8, upload: true, inWindow: true, read: (gpu) => gpu.gpuInstanceId }),
  declare({ name: "compute_instance_id", kind: "identity", since: 8, upload: true, inWindow: true, read: (gpu) => gpu.computeInstanceId }),
  declare({ name: "mig_mode", kind: "identity", snapshotOnly: true, upload: false, read: (gpu) => storedBoolean(gpu.migMode), show: asBoolean }),
  declare({ name: "mig_mode_pending", kind: "identity", snapshotOnly: true, upload: false, read: (gpu) => storedBoolean(gpu.migModePending), show: asBoolean }),
  // GPM activity (Hopper and later) over the interval: the GPU's, or on a MIG device its GPU instance's.
  declare({
    name: "sm_activity",
    kind: "gauge",
    storedUnit: "0.01%",
    shownUnit: "%",
    since: 8,
    exporter: "DCGM_FI_PROF_SM_ACTIVE",
    read: (gpu) => hundredths(gpu.gpm?.smActivityPercent),
  }),
  declare({
    name: "sm_occupancy",
    kind: "gauge",
    storedUnit: "0.01%",
    shownUnit: "%",
    since: 8,
    exporter: "DCGM_FI_PROF_SM_OCCUPANCY",
    read: (gpu) => hundredths(gpu.gpm?.smOccupancyPercent),
  }),
  declare({
    name: "tensor_activity",
    kind: "gauge",
    storedUnit: "0.01%",
    shownUnit: "%",
    since: 8,
    exporter: "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE",
    read: (gpu) => hundredths(gpu.gpm?.tensorActivityPercent),
  }),
  declare({
    name: "dram_activity",
    kind: "gauge",
    storedUnit: "0.01%",
    shownUnit: "%",
    since: 8,
    exporter: "DCGM_FI_PROF_DRAM_ACTIVE",
    read: (gpu) => hundredths(gpu.gpm?.dramActivityPercent),
  }),
  declare({
    name: "graphics_activity",
    kind: "gauge",
    storedUnit: "0.01%",
    shownUnit: "%",
    since: 8,
    exporter: "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
    read: (gpu) => hundredths(gpu.gpm?.graphicsActivityPercent),
  }),
];

/** The catalog's MIG identities: what a MIG device has and a GPU never does. */
export const MIG_IDENTITY_NAMES: readonly string[] = ["parent_uid", "mig_profile", "gpu_instance_id", "compute_instance_id"];
/** The catalog's GPM metrics. */
export const GPM_METRIC_NAMES: readonly string[] = ["sm_activity", "sm_occupancy", "tensor_activity", "dram_activity", "graphics_activity"];

/**
 * Fields a window computes from its samples and events together, stored once per
 * window and GPU after the metrics' own summaries. They follow every metric field
 * in a window's output and the upload body, in this order.
 */
export interface WindowField {
  readonly name: string;
  /** Column of `aggregates`. */
  readonly column: string;
  readonly sqlType: "INTEGER" | "REAL" | "TEXT";
  /** Schema version whose migration added the column. */
  readonly since: number;
  /** dcgm-exporter's field name, for the Prometheus endpoint. */
  readonly exporter: string | null;
  readonly show: (stored: any) => ShownValue;
}

const parseJson = (stored: string | null): any => (stored === null ? null : JSON.parse(stored));

function windowField(field: Pick<WindowField, "name" | "sqlType"> & Partial<WindowField>): WindowField {
  return { column: field.name, since: 6, exporter: null, show: AS_STORED, ...field };
}

export const WINDOW_FIELDS: readonly WindowField[] = [
  /** Seconds GPU utilization was above zero: from the driver's samples where the window has them, else whole intervals of point readings above zero. */
  windowField({ name: "busy_seconds", sqlType: "REAL" }),
  /** Share of the window's samples whose utilization averages the driver's samples. */
  windowField({ name: "averaged_share", sqlType: "REAL" }),
  /** "counter" (the driver's energy counter) or "power_integral" (power over the samples' intervals, where there is no counter). */
  windowField({ name: "energy_source", sqlType: "TEXT" }),
  windowField({ name: "xid_count", sqlType: "INTEGER", exporter: "DCGM_FI_DEV_XID_ERRORS" }),
  /** [{time, code, description}], JSON. */
  windowField({ name: "xid_errors", sqlType: "TEXT", show: parseJson }),
  windowField({ name: "ecc_errors_corrected_delta", sqlType: "INTEGER" }),
  windowField({ name: "ecc_errors_uncorrected_delta", sqlType: "INTEGER" }),
  windowField({ name: "remapped_rows_correctable", sqlType: "INTEGER" }),
  windowField({ name: "remapped_rows_uncorrectable", sqlType: "INTEGER" }),
  windowField({ name: "remapped_rows_pending", sqlType: "INTEGER", show: asBoolean }),
  windowField({ name: "remapped_rows_failure", sqlType: "INTEGER", show: asBoolean }),
  /** {reason name: seconds active}, JSON. */
  windowField({ name: "clock_event_seconds", sqlType: "TEXT", show: parseJson }),
  /** Seconds the GPU answered with no XID in the interval. */
  windowField({ name: "healthy_seconds", sqlType: "REAL" }),
  /** Seconds without a sample: GPU lost or unreadable, NVML hung, driver not loaded, agent not running. */
  windowField({ name: "unavailable_seconds", sqlType: "REAL" }),
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
