// The fields a window computes from a GPU's samples and events together (the
// catalog's WINDOW_FIELDS): usage over the interval, where the energy figure came
// from, and health. Pure.

import { sampleColumnIndex, WINDOW_FIELDS } from "../metrics/catalog.ts";
import { CLOCK_EVENT_REASONS } from "../nvml/structs.ts";
import type { SampleColumns } from "../store/columns.ts";
import { formatUtc } from "../util/time.ts";

/** An XID of one GPU within a window. */
export interface WindowXid {
  ts: number;
  code: number;
  description: string | null;
}

export interface WindowFieldsInput {
  /** The GPU's samples (null: none) and the first one inside the window; earlier ones are the counters' baseline. */
  series: SampleColumns | null;
  first: number;
  /** The sample just before the window, when it is close enough to count a counter's step into it. */
  hasBaseline: boolean;
  periodSeconds: number;
  intervalSeconds: number;
  xids: readonly WindowXid[];
  /** The energy counter's increase over the window, null when the GPU has no counter. */
  energyFromCounter: number | null;
}

export interface WindowFieldsResult {
  /** In WINDOW_FIELDS order. */
  values: Array<number | string | null>;
  /** The window's energy: the counter's increase or, without a counter, the power integral. */
  energy: number | null;
}

const COLUMN = {
  gpuUtilization: sampleColumnIndex("gpu_utilization"),
  utilizationSamples: sampleColumnIndex("utilization_samples"),
  busy: sampleColumnIndex("busy_ms"),
  power: sampleColumnIndex("power_mw"),
  eccCorrected: sampleColumnIndex("ecc_errors_corrected"),
  eccUncorrected: sampleColumnIndex("ecc_errors_uncorrected"),
  remappedCorrectable: sampleColumnIndex("remapped_rows_correctable"),
  remappedUncorrectable: sampleColumnIndex("remapped_rows_uncorrectable"),
  remappedPending: sampleColumnIndex("remapped_rows_pending"),
  remappedFailure: sampleColumnIndex("remapped_rows_failure"),
  clockEventReasons: sampleColumnIndex("clock_event_reasons"),
  graphicsActivity: sampleColumnIndex("graphics_activity"),
};

export function windowFields(input: WindowFieldsInput): WindowFieldsResult {
  const { series, first, intervalSeconds } = input;
  const count = series ? series.ts.length - first : 0;
  const column = (index: number): ReadonlyArray<number | null> => series?.values[index] ?? [];
  const inWindow = (index: number): Array<number | null> => column(index).slice(first);

  const energyIntegral = input.energyFromCounter === null ? powerIntegral(inWindow(COLUMN.power), intervalSeconds) : null;
  const energy = input.energyFromCounter ?? energyIntegral;
  const energySource = input.energyFromCounter !== null ? "counter" : energyIntegral !== null ? "power_integral" : null;

  const xidTimes = input.xids.map((xid) => xid.ts);
  const answered = series ? series.ts.slice(first) : [];
  // A sample stands for the interval before it: an XID in that interval makes it unhealthy.
  const unhealthy = answered.filter((ts) => xidTimes.some((at) => at > ts - intervalSeconds && at <= ts)).length;
  const baseline = input.hasBaseline ? first - 1 : -1;

  const fields: Record<string, number | string | null> = {
    busy_seconds: busySeconds(inWindow(COLUMN.busy), inWindow(COLUMN.gpuUtilization), inWindow(COLUMN.graphicsActivity), intervalSeconds),
    averaged_share: averagedShare(inWindow(COLUMN.utilizationSamples)),
    energy_source: energySource,
    xid_count: input.xids.length,
    xid_errors: JSON.stringify(input.xids.map((xid) => ({ time: formatUtc(xid.ts), code: xid.code, description: xid.description }))),
    ecc_errors_corrected_delta: increase(column(COLUMN.eccCorrected), first, baseline),
    ecc_errors_uncorrected_delta: increase(column(COLUMN.eccUncorrected), first, baseline),
    remapped_rows_correctable: latest(inWindow(COLUMN.remappedCorrectable)),
    remapped_rows_uncorrectable: latest(inWindow(COLUMN.remappedUncorrectable)),
    remapped_rows_pending: latest(inWindow(COLUMN.remappedPending)),
    remapped_rows_failure: latest(inWindow(COLUMN.remappedFailure)),
    clock_event_seconds: clockEventSeconds(inWindow(COLUMN.clockEventReasons), intervalSeconds),
    healthy_seconds: (count - unhealthy) * intervalSeconds,
    unavailable_seconds: Math.max(0, input.periodSeconds - count * intervalSeconds),
  };
  return { values: WINDOW_FIELDS.map((field) => fields[field.name] ?? null), energy };
}

/**
 * Seconds above zero: the driver's measure where a sample has one, else the whole
 * interval of a reading above zero; where utilization is not measured (a MIG
 * device, a GPU in MIG mode), the interval's GPM graphics activity above zero.
 */
function busySeconds(
  busyMs: ReadonlyArray<number | null>,
  utilization: ReadonlyArray<number | null>,
  graphicsActivity: ReadonlyArray<number | null>,
  intervalSeconds: number,
): number | null {
  let seconds = 0;
  let known = false;
  for (let i = 0; i < busyMs.length; i++) {
    const measured = busyMs[i];
    const level = utilization[i] ?? graphicsActivity[i] ?? null;
    if (measured !== null && measured !== undefined) {
      seconds += measured / 1000;
      known = true;
    } else if (level !== null) {
      if (level > 0) seconds += intervalSeconds;
      known = true;
    }
  }
  return known ? Math.round(seconds * 1000) / 1000 : null;
}

function averagedShare(utilizationSamples: ReadonlyArray<number | null>): number | null {
  const known = utilizationSamples.filter((value) => value !== null) as number[];
  if (known.length === 0) return null;
  return Math.round((known.filter((value) => value > 0).length / known.length) * 10000) / 10000;
}

/** Energy in mJ from power (mW) held over each sample's interval; null without a power value. */
function powerIntegral(powerMw: ReadonlyArray<number | null>, intervalSeconds: number): number | null {
  let total = 0;
  let known = false;
  for (const value of powerMw) {
    if (value === null) continue;
    total += value * intervalSeconds;
    known = true;
  }
  return known ? Math.round(total) : null;
}

/** A count's increase from the baseline sample (index `baseline`, -1 for none) through the window; a decrease is a reset. Null without a value. */
function increase(values: ReadonlyArray<number | null>, first: number, baseline: number): number | null {
  let last = baseline >= 0 ? (values[baseline] ?? null) : null;
  let total: number | null = null;
  for (let i = first; i < values.length; i++) {
    const value = values[i]!;
    if (value === null) continue;
    total ??= 0;
    if (last !== null && value >= last) total += value - last;
    last = value;
  }
  return total;
}

function latest(values: ReadonlyArray<number | null>): number | null {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null) return values[i]!;
  return null;
}

/** For every clock-event reason, the seconds it was active: each sample's mask held over its interval. */
function clockEventSeconds(masks: ReadonlyArray<number | null>, intervalSeconds: number): string | null {
  if (!masks.some((mask) => mask !== null)) return null;
  const seconds: Record<string, number> = {};
  for (const [bit, name] of CLOCK_EVENT_REASONS) {
    seconds[name] = masks.reduce<number>((sum, mask) => (mask !== null && mask & bit ? sum + intervalSeconds : sum), 0);
  }
  return JSON.stringify(seconds);
}
