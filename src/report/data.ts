// What a usage report shows, gathered from a period's stored windows, events and
// send ledger: per device its hourly series, days, heat map, coverage gaps and
// health marks; for the host the totals, which come from the usage module (so
// they are the `usage` command's numbers) and the delivery ledger. Pure: the
// caller reads the store, the renderers (html.ts, json.ts) only format.

import { presentSeconds, type UsageRow, type UsageSummary } from "../query/usage.ts";
import type { StoredEvent } from "../store/events.ts";
import type { StoredGpu } from "../store/gpus.ts";
import type { WindowSummary } from "../store/ledger.ts";
import type { StoredWindowGpu } from "../store/windows.ts";
import type { Period } from "./period.ts";

export interface ReportInput {
  host: string;
  driverVersion: string | null;
  agentVersion: string;
  generatedAt: number;
  period: Period;
  /** End of the newest stored window: later time is not aggregated yet, which is no gap. */
  closedUntil: number | null;
  /** The GPU summaries of the windows starting in the period. */
  windows: readonly StoredWindowGpu[];
  /** Windows of the period not stored yet, summarised from raw samples: in the charts and tables, not in the totals. */
  openWindows: readonly StoredWindowGpu[];
  gpus: ReadonlyMap<number, StoredGpu>;
  /** The usage module's figures for the same windows, per GPU: the header's numbers. */
  usage: UsageSummary;
  /** Events in the period, any kind, oldest first. */
  events: readonly StoredEvent[];
  /** The send ledger's windows starting in the period, any order. */
  ledger: readonly LedgerWindow[];
  /** Whether a server is configured: without one, pending windows wait for nothing. */
  uploadsConfigured: boolean;
  /** The usage module's figures by user and by container (empty rows: no attribution data). */
  attribution: readonly UsageSummary[];
}

/** A window's uploads, and its latest failed attempt where the ledger was asked (the last attempt's error alone is null once it was sent). */
export type LedgerWindow = WindowSummary & { lastFailure?: { at: number; error: string } | null };

/** One window of one device. Rounded as shown: the page and the JSON carry the same figures. */
export interface HourPoint {
  start: number;
  /** Not aggregated yet: summarised from raw samples for this report (the hour in progress, or more). */
  open: boolean;
  periodSeconds: number;
  samples: number;
  presentSeconds: number;
  busySeconds: number | null;
  utilization: number | null;
  utilizationMin: number | null;
  utilizationMax: number | null;
  memoryUsedGib: number | null;
  memoryUsedMaxGib: number | null;
  powerWatts: number | null;
  powerMaxWatts: number | null;
  energyWh: number | null;
  temperature: number | null;
  temperatureMax: number | null;
  xids: number;
  eccCorrected: number | null;
  eccUncorrected: number | null;
}

/** One local calendar day of one device. */
export interface DayPoint {
  /** Local midnight. */
  start: number;
  presentHours: number;
  busyHours: number | null;
  utilization: number | null;
  utilizationMax: number | null;
  memoryPeakGib: number | null;
  powerWatts: number | null;
  powerMaxWatts: number | null;
  energyKwh: number | null;
  temperatureMax: number | null;
  xids: number;
}

/** A stretch with no samples ("missing") or fewer than the window expected ("partial"). */
export interface CoverageGap {
  from: number;
  to: number;
  kind: "missing" | "partial";
  /** For a partial window: the share of it with samples. */
  share: number | null;
}

export type HealthKind = "xid" | "ecc" | "gpu_lost" | "gpu_trouble" | "gpu_recovered" | "driver";

/** Something that happened to a device (or the host's driver), marked on the time axis. */
export interface HealthMark {
  ts: number;
  kind: HealthKind;
  text: string;
}

export interface DeviceReport {
  gpuId: number;
  /** How the page names it: "GPU 0", and a MIG device under its GPU "GPU 0 · MIG 3g.40gb"; `anchor` is its section's id. */
  label: string;
  anchor: string;
  uid: string;
  /** For a MIG device, its GPU's UUID (its section follows the GPU's). */
  parentUid: string | null;
  migProfile: string | null;
  name: string | null;
  pciBusId: string | null;
  memoryTotalGib: number | null;
  /** The usage module's row for this device (null: no window in the period). */
  usage: UsageRow | null;
  /** Share of the period with samples, 0 to 1. */
  coverage: number;
  hours: HourPoint[];
  days: DayPoint[];
  /** Utilization by [day][local hour of day], averaged over the windows starting in that hour; null: no samples. */
  heat: Array<Array<number | null>>;
  gaps: CoverageGap[];
  health: HealthMark[];
}

export interface LedgerProblem {
  windowStart: number;
  state: "pending" | "sent" | "failed";
  attempts: number;
  lastAttempt: number | null;
  lastError: string | null;
}

export interface UploadReport {
  configured: boolean;
  windows: number;
  delivered: number;
  pending: number;
  failed: number;
  /** Windows that needed more than one attempt (delivered in the end or not). */
  retried: number;
  attempts: number;
  lastFailure: { at: number; windowStart: number; error: string } | null;
  /** Windows retried or failed, newest first. */
  problems: LedgerProblem[];
}

/** One user's or container's use of the GPUs, from the usage module. */
export interface AttributionRow {
  key: string;
  gpuHours: number;
  /** SM-busy hours: the SM share × time present. */
  busyHours: number | null;
  energyKwh: number | null;
  /** How the GPU energy was split among those on it: by SM share, by time present, or both. */
  energyBasis: string | null;
  utilizationAverage: number | null;
  memoryPeakGib: number | null;
}

export interface Attribution {
  by: string;
  rows: AttributionRow[];
  total: AttributionRow;
}

export interface ReportTotals {
  /** GPUs with windows in the period, MIG devices not counted. */
  devices: number;
  migDevices: number;
  windows: number;
  gpuHours: number;
  busyGpuHours: number | null;
  utilizationAverage: number | null;
  energyKwh: number | null;
  memoryPeakGib: number | null;
  /** Share of the period in which the host had samples of any device, 0 to 1. */
  coverage: number;
  /** GPU-hours present over devices × the period's hours, 0 to 1. */
  deviceCoverage: number;
}

export interface ReportData {
  host: string;
  driverVersion: string | null;
  agentVersion: string;
  generatedAt: number;
  from: number;
  to: number;
  /** The local time's offset at the period's start, and at its end where that differs (DST), e.g. "+02:00 to +01:00", and the zone's name where known. */
  timeZone: string;
  closedUntil: number | null;
  /** How many of the period's windows are open (read from raw samples), and where they start. */
  openWindows: { count: number; from: number | null };
  /**
   * The stretch the charts and per-day tables draw: the period from the local day
   * of its first data (window or event) to now or its end, whichever is first, so
   * the page grows with the data, not with the days asked for. The header and
   * totals are the whole period's.
   */
  shown: Period;
  /** Local midnights of the days `shown` touches. */
  days: number[];
  totals: ReportTotals;
  uploads: UploadReport;
  devices: DeviceReport[];
  /** Use by user and by container, where processes were recorded; empty without attribution data. */
  attribution: Attribution[];
  /** Where no device had samples. */
  hostGaps: CoverageGap[];
  /** Driver and agent events of no one device. */
  hostHealth: HealthMark[];
}

const GIB = 1024 ** 3;
const KWH_MJ = 3.6e9;
/** Kinds of events that concern one GPU; those without a GPU are the driver's. */
const GPU_EVENTS: Record<string, HealthKind> = {
  gpu_lost: "gpu_lost",
  gpu_unavailable: "gpu_lost",
  gpu_unreadable: "gpu_trouble",
  gpu_failed: "gpu_trouble",
  gpu_recovered: "gpu_recovered",
};
const DRIVER_EVENTS = new Set(["nvml_unavailable", "nvml_lost", "nvml_reinit", "clock_back"]);

export function buildReport(input: ReportInput): ReportData {
  const { from, to } = input.period;
  const byGpu = new Map<number, StoredWindowGpu[]>();
  // An open window no device had a sample in says nothing: no device, no "not aggregated yet".
  const openWindows = input.openWindows.filter((window) => window.sampleCount > 0);
  const shown = shownPeriod(input.period, input.generatedAt, [...input.windows, ...openWindows], input.events);
  const days = localDays(shown.from, shown.to);
  const open = new Set(openWindows);
  for (const window of [...input.windows, ...openWindows]) {
    let list = byGpu.get(window.gpuId);
    if (!list) byGpu.set(window.gpuId, (list = []));
    list.push(window);
  }
  const usageByUid = new Map(input.usage.rows.map((row) => [row.key, row]));
  const gpuEvents = eventsByGpu(input.events, input.gpus, [...byGpu.keys()]);
  // Past the last stored window, time is only observed as far as raw samples were read
  // (read whether or not any were found: a read without samples is a gap).
  const openEnd = input.openWindows.length > 0 ? Math.min(to, input.generatedAt) : from;
  const observedEnd = Math.min(to, input.generatedAt, Math.max(input.closedUntil ?? from, from, openEnd));
  // The part of the period that has happened: the future is no missing coverage.
  const elapsed = Math.max(Math.min(to, input.generatedAt) - from, 0);

  const devices = namedInOrder([...byGpu.keys()], input.gpus).map(({ gpuId, label, anchor }) => {
      const gpu = input.gpus.get(gpuId);
      const uid = String(gpu?.identity.uid ?? `gpu ${gpuId}`);
      const windows = byGpu.get(gpuId)!.sort((a, b) => a.windowStart - b.windowStart);
      const hours = windows.map((window) => hourPoint(window, open.has(window)));
      return {
        gpuId,
        label,
        anchor,
        uid,
        parentUid: parentOf(gpu),
        migProfile: stringOrNull(gpu?.identity.mig_profile),
        name: stringOrNull(gpu?.identity.name),
        pciBusId: stringOrNull(gpu?.identity.pci_bus_id),
        memoryTotalGib: numberOrNull(gpu?.identity.memory_total) === null ? null : round(Number(gpu!.identity.memory_total) / GIB, 2),
        usage: usageByUid.get(uid) ?? null,
        coverage: share(windows.reduce((sum, window) => sum + presentSeconds(window), 0), elapsed),
        hours,
        days: dayPoints(windows, days, shown.to),
        heat: heatMap(windows, days, shown.to),
        gaps: coverageGaps(windows, from, observedEnd, input.generatedAt),
        health: [...windowHealth(windows), ...(gpuEvents.get(gpuId) ?? [])].sort((a, b) => a.ts - b.ts),
      } satisfies DeviceReport;
    });

  const total = input.usage.total;
  const gpuCount = devices.filter((device) => device.parentUid === null).length;
  return {
    host: input.host,
    driverVersion: input.driverVersion,
    agentVersion: input.agentVersion,
    generatedAt: input.generatedAt,
    from,
    to,
    timeZone: timeZoneName(from, to),
    closedUntil: input.closedUntil,
    shown,
    openWindows: {
      count: new Set(openWindows.map((window) => window.windowStart)).size,
      from: openWindows.length === 0 ? null : Math.min(...openWindows.map((window) => window.windowStart)),
    },
    days,
    totals: {
      devices: gpuCount,
      migDevices: devices.length - gpuCount,
      windows: new Set(input.windows.map((window) => window.windowStart)).size,
      // Rounded as `usage` rounds them, so the two print the same numbers.
      gpuHours: round(total.gpuSeconds / 3600, 6),
      busyGpuHours: total.busySeconds === null ? null : round(total.busySeconds / 3600, 6),
      utilizationAverage: total.utilizationAverage,
      energyKwh: total.energyMj === null ? null : round(total.energyMj / KWH_MJ, 6),
      memoryPeakGib: total.memoryPeakBytes === null ? null : round(total.memoryPeakBytes / GIB, 2),
      coverage: hostCoverage(input.windows, elapsed),
      deviceCoverage: gpuCount === 0 ? 0 : share(total.gpuSeconds, gpuCount * elapsed),
    },
    uploads: uploadReport(input.ledger, input.uploadsConfigured),
    devices,
    attribution: input.attribution
      .filter((summary) => summary.rows.length > 0)
      .map((summary) => ({ by: summary.by, rows: summary.rows.map(attributionRow), total: attributionRow(summary.total) })),
    hostGaps: coverageGaps(bestCoveredPerWindow([...input.windows, ...openWindows]), from, observedEnd, input.generatedAt),
    hostHealth: input.events
      .filter((event) => DRIVER_EVENTS.has(event.kind) || (event.kind in GPU_EVENTS && event.gpu_index === null && event.gpu_uuid === null))
      .map((event) => ({ ts: event.ts, kind: "driver" as const, text: `${event.kind}: ${event.detail}` })),
  };
}

/**
 * A number for every GPU ever stored, the same in every period: the rank of its
 * PCI bus id among the bus ids of all stored GPUs (as nvidia-smi numbers a host's
 * GPUs), so a GPU that later took another's slot gets that slot's number; GPUs
 * without a bus id after those, by id. MIG devices get none.
 */
export function gpuNumbers(gpus: ReadonlyMap<number, StoredGpu>): Map<number, number> {
  const whole = [...gpus.values()].filter((gpu) => parentOf(gpu) === null);
  const busIds = [...new Set(whole.map((gpu) => stringOrNull(gpu.identity.pci_bus_id)).filter((bus): bus is string => bus !== null))].sort((a, b) => a.localeCompare(b));
  const rank = new Map(busIds.map((bus, i) => [bus, i]));
  const numbers = new Map<number, number>();
  let next = busIds.length;
  for (const gpu of whole.sort((a, b) => a.id - b.id)) {
    const bus = stringOrNull(gpu.identity.pci_bus_id);
    numbers.set(gpu.id, bus === null ? next++ : rank.get(bus)!);
  }
  return numbers;
}

/**
 * The devices in page order with their names: GPUs by PCI bus id, numbered by
 * gpuNumbers (stable over periods); each GPU's MIG devices right after it, by GPU instance.
 */
function namedInOrder(gpuIds: readonly number[], gpus: ReadonlyMap<number, StoredGpu>): Array<{ gpuId: number; label: string; anchor: string }> {
  const present = new Set(gpuIds.map((id) => String(gpus.get(id)?.identity.uid ?? `gpu ${id}`)));
  const byOrder = (a: number, b: number) => deviceOrder(gpus.get(a), gpus.get(b)) || a - b;
  const children = new Map<string, number[]>();
  const top: number[] = [];
  for (const id of gpuIds) {
    const parent = parentOf(gpus.get(id));
    if (parent !== null && present.has(parent)) children.set(parent, [...(children.get(parent) ?? []), id]);
    else top.push(id);
  }
  const named: Array<{ gpuId: number; label: string; anchor: string }> = [];
  const numbers = gpuNumbers(gpus);
  const anchors = new Set<string>();
  for (const id of top.sort((a, b) => (numbers.get(a) ?? Infinity) - (numbers.get(b) ?? Infinity) || byOrder(a, b))) {
    const gpu = gpus.get(id);
    const parent = parentOf(gpu);
    const number = numbers.get(id) ?? id;
    const own = parent === null ? `GPU ${number}` : `MIG device of ${parent}`;
    // Two GPUs of one slot in one period (one replaced the other) share the number, not the anchor.
    const anchor = parent !== null ? `mig-${id}` : anchors.has(`gpu-${number}`) ? `gpu-${number}-${id}` : `gpu-${number}`;
    anchors.add(anchor);
    named.push({ gpuId: id, label: parent === null ? own : `${own} · MIG ${gpu?.identity.mig_profile ?? ""}`.trim(), anchor });
    const slices = (children.get(String(gpu?.identity.uid)) ?? []).sort(
      (a, b) => Number(gpus.get(a)?.identity.gpu_instance_id ?? 0) - Number(gpus.get(b)?.identity.gpu_instance_id ?? 0) || byOrder(a, b),
    );
    slices.forEach((slice, i) => {
      const profile = stringOrNull(gpus.get(slice)?.identity.mig_profile);
      named.push({ gpuId: slice, label: `${own} · MIG ${profile ?? i}`, anchor: `${anchor}-mig-${i}` });
    });
  }
  return named;
}

/** A MIG device's GPU (its UUID); null for a GPU. */
function parentOf(gpu: StoredGpu | undefined): string | null {
  return stringOrNull(gpu?.identity.parent_uid);
}

/**
 * A window's utilization (its average, or its _min or _max): NVML's, or where NVML
 * gives none (a MIG device) GPM's graphics activity, stored in hundredths of a
 * percent; as the usage module reads it.
 */
function utilizationOf(values: StoredWindowGpu["values"], suffix: "" | "_min" | "_max"): number | null {
  const nvml = numberOrNull(values[`gpu_utilization${suffix}`]);
  if (nvml !== null) return nvml;
  const graphics = numberOrNull(values[`graphics_activity${suffix}`]);
  return graphics === null ? null : graphics / 100;
}

/** GPUs by PCI bus id (the order nvidia-smi lists them in), then id. */
function deviceOrder(a: StoredGpu | undefined, b: StoredGpu | undefined): number {
  return String(a?.identity.pci_bus_id ?? "").localeCompare(String(b?.identity.pci_bus_id ?? ""));
}

function attributionRow(row: UsageRow): AttributionRow {
  return {
    key: row.key,
    gpuHours: round(row.gpuSeconds / 3600, 6),
    busyHours: row.busySeconds === null ? null : round(row.busySeconds / 3600, 6),
    energyKwh: row.energyMj === null ? null : round(row.energyMj / KWH_MJ, 6),
    energyBasis: row.energyBasis,
    utilizationAverage: row.utilizationAverage,
    memoryPeakGib: row.memoryPeakBytes === null ? null : round(row.memoryPeakBytes / GIB, 2),
  };
}

function hourPoint(window: StoredWindowGpu, open: boolean): HourPoint {
  const v = window.values;
  const energy = numberOrNull(v.energy_mj);
  return {
    start: window.windowStart,
    open,
    periodSeconds: window.periodSeconds,
    samples: window.sampleCount,
    presentSeconds: presentSeconds(window),
    busySeconds: roundOrNull(numberOrNull(v.busy_seconds), 1),
    utilization: roundOrNull(utilizationOf(v, ""), 1),
    utilizationMin: roundOrNull(utilizationOf(v, "_min"), 1),
    utilizationMax: roundOrNull(utilizationOf(v, "_max"), 1),
    memoryUsedGib: scaled(v.memory_used, GIB, 1),
    memoryUsedMaxGib: scaled(v.memory_used_max, GIB, 1),
    powerWatts: scaled(v.power_mw, 1000, 1),
    powerMaxWatts: scaled(v.power_mw_max, 1000, 0),
    energyWh: energy === null ? null : round(energy / 3.6e6, 1),
    temperature: roundOrNull(numberOrNull(v.temperature), 1),
    temperatureMax: numberOrNull(v.temperature_max),
    xids: numberOrNull(v.xid_count) ?? 0,
    eccCorrected: numberOrNull(v.ecc_errors_corrected_delta),
    eccUncorrected: numberOrNull(v.ecc_errors_uncorrected_delta),
  };
}

/** Sums that make an average weighted by samples, a maximum and a total. */
class Tally {
  samples = 0;
  present = 0;
  busy: number | null = null;
  utilizationSum = 0;
  utilizationSamples = 0;
  utilizationMax: number | null = null;
  memoryPeak: number | null = null;
  powerSum = 0;
  powerSamples = 0;
  powerMax: number | null = null;
  energy: number | null = null;
  temperatureMax: number | null = null;
  xids = 0;

  add(window: StoredWindowGpu): void {
    const v = window.values;
    this.present += presentSeconds(window);
    this.xids += numberOrNull(v.xid_count) ?? 0;
    const busy = numberOrNull(v.busy_seconds);
    if (busy !== null) this.busy = (this.busy ?? 0) + busy;
    const energy = numberOrNull(v.energy_mj);
    if (energy !== null) this.energy = (this.energy ?? 0) + energy;
    const utilization = utilizationOf(v, "");
    if (utilization !== null && window.sampleCount > 0) {
      this.utilizationSum += utilization * window.sampleCount;
      this.utilizationSamples += window.sampleCount;
    }
    const power = numberOrNull(v.power_mw);
    if (power !== null && window.sampleCount > 0) {
      this.powerSum += power * window.sampleCount;
      this.powerSamples += window.sampleCount;
    }
    this.utilizationMax = maxOf(this.utilizationMax, roundOrNull(utilizationOf(v, "_max"), 1));
    this.memoryPeak = maxOf(this.memoryPeak, numberOrNull(v.memory_used_max));
    this.powerMax = maxOf(this.powerMax, numberOrNull(v.power_mw_max));
    this.temperatureMax = maxOf(this.temperatureMax, numberOrNull(v.temperature_max));
  }

  get utilization(): number | null {
    return this.utilizationSamples > 0 ? round(this.utilizationSum / this.utilizationSamples, 1) : null;
  }
}

function dayPoints(windows: readonly StoredWindowGpu[], days: readonly number[], to: number): DayPoint[] {
  const tallies = days.map(() => new Tally());
  forEachDay(windows, days, to, (day, window) => tallies[day]!.add(window));
  return tallies.map((tally, i) => ({
    start: days[i]!,
    presentHours: round(tally.present / 3600, 2),
    busyHours: tally.busy === null ? null : round(tally.busy / 3600, 2),
    utilization: tally.utilization,
    utilizationMax: tally.utilizationMax,
    memoryPeakGib: tally.memoryPeak === null ? null : round(tally.memoryPeak / GIB, 2),
    powerWatts: tally.powerSamples > 0 ? round(tally.powerSum / tally.powerSamples / 1000, 1) : null,
    powerMaxWatts: tally.powerMax === null ? null : round(tally.powerMax / 1000, 1),
    energyKwh: tally.energy === null ? null : round(tally.energy / KWH_MJ, 3),
    temperatureMax: tally.temperatureMax,
    xids: tally.xids,
  }));
}

function heatMap(windows: readonly StoredWindowGpu[], days: readonly number[], to: number): Array<Array<number | null>> {
  const cells = days.map(() => Array.from({ length: 24 }, () => new Tally()));
  forEachDay(windows, days, to, (day, window) => cells[day]![new Date(window.windowStart * 1000).getHours()]!.add(window));
  return cells.map((row) => row.map((tally) => tally.utilization));
}

/** Calls `visit` with the index of the local day each window starts in (windows in order). */
function forEachDay(windows: readonly StoredWindowGpu[], days: readonly number[], to: number, visit: (day: number, window: StoredWindowGpu) => void): void {
  let day = 0;
  for (const window of windows) {
    while (day + 1 < days.length && window.windowStart >= days[day + 1]!) day++;
    if (window.windowStart < to && window.windowStart >= days[0]!) visit(day, window);
  }
}

/**
 * What the charts draw of a period: from the local midnight before its first
 * window or event (not before the period's start) to now, or to the period's end
 * where that comes first; later data (a clock set back) still shown. Without any
 * data, the period up to now, or its first day where it lies ahead.
 */
export function shownPeriod(period: Period, now: number, windows: readonly StoredWindowGpu[], events: readonly StoredEvent[]): Period {
  let first = Infinity;
  let last = -Infinity;
  for (const window of windows) {
    first = Math.min(first, window.windowStart);
    last = Math.max(last, window.windowStart + window.periodSeconds);
  }
  for (const event of events) {
    first = Math.min(first, event.ts);
    last = Math.max(last, event.ts + 1);
  }
  const start = first === Infinity ? period.from : Math.min(Math.max(period.from, localMidnight(first)), period.to);
  const end = Math.min(period.to, Math.max(now, last));
  return end > start ? { from: start, to: end } : { from: start, to: Math.min(period.to, start + 86_400) };
}

function localMidnight(epochSeconds: number): number {
  const date = new Date(epochSeconds * 1000);
  return new Date(date.getFullYear(), date.getMonth(), date.getDate()).getTime() / 1000;
}

/** Local midnights from the one on or before `from` up to before `to` (23- and 25-hour days included). */
export function localDays(from: number, to: number): number[] {
  const days: number[] = [];
  const start = new Date(from * 1000);
  let day = new Date(start.getFullYear(), start.getMonth(), start.getDate());
  while (day.getTime() / 1000 < to) {
    days.push(day.getTime() / 1000);
    day = new Date(day.getFullYear(), day.getMonth(), day.getDate() + 1);
  }
  return days;
}

/**
 * Where a device had no samples between `from` and `observedEnd` (after that nothing
 * is aggregated yet): time without a window of it, windows without samples, merged;
 * and windows with fewer samples than expected, each on its own (but the one still
 * running at `now`, whose samples are not all taken yet).
 */
export function coverageGaps(windows: readonly StoredWindowGpu[], from: number, observedEnd: number, now = Infinity): CoverageGap[] {
  const gaps: CoverageGap[] = [];
  const missing = (start: number, end: number) => {
    if (end <= start) return;
    const last = gaps.at(-1);
    if (last && last.kind === "missing" && last.to >= start) last.to = Math.max(last.to, end);
    else gaps.push({ from: start, to: end, kind: "missing", share: null });
  };
  let covered = from;
  for (const window of windows) {
    const end = window.windowStart + window.periodSeconds;
    missing(covered, Math.min(window.windowStart, observedEnd));
    const present = presentSeconds(window);
    if (present <= 0) missing(window.windowStart, Math.min(end, observedEnd));
    else if (present < window.periodSeconds && end <= now) {
      gaps.push({ from: window.windowStart, to: end, kind: "partial", share: round(present / window.periodSeconds, 3) });
    }
    covered = Math.max(covered, end);
  }
  missing(covered, observedEnd);
  return gaps;
}

/** The share of the period in which the host had samples: per window, the best-covered device's present time. */
function hostCoverage(windows: readonly StoredWindowGpu[], periodSeconds: number): number {
  return share(bestCoveredPerWindow(windows).reduce((sum, window) => sum + presentSeconds(window), 0), periodSeconds);
}

/** Per window, the summary of the device with the most time present, in window order. */
function bestCoveredPerWindow(windows: readonly StoredWindowGpu[]): StoredWindowGpu[] {
  const best = new Map<number, StoredWindowGpu>();
  for (const window of windows) {
    const held = best.get(window.windowStart);
    if (!held || presentSeconds(window) > presentSeconds(held)) best.set(window.windowStart, window);
  }
  return [...best.values()].sort((a, b) => a.windowStart - b.windowStart);
}

/** XIDs (as each window recorded them) and hours with ECC errors. */
function windowHealth(windows: readonly StoredWindowGpu[]): HealthMark[] {
  const marks: HealthMark[] = [];
  for (const window of windows) {
    for (const xid of parseXids(window.values.xid_errors)) {
      marks.push({ ts: xid.ts ?? window.windowStart, kind: "xid", text: `XID ${xid.code}${xid.description ? `: ${xid.description}` : ""}` });
    }
    const corrected = numberOrNull(window.values.ecc_errors_corrected_delta) ?? 0;
    const uncorrected = numberOrNull(window.values.ecc_errors_uncorrected_delta) ?? 0;
    if (corrected > 0 || uncorrected > 0) {
      const parts = [uncorrected > 0 ? `${uncorrected} uncorrected` : "", corrected > 0 ? `${corrected} corrected` : ""].filter(Boolean);
      marks.push({ ts: window.windowStart, kind: "ecc", text: `ECC errors in this window: ${parts.join(", ")}` });
    }
  }
  return marks;
}

function parseXids(value: number | string | null | undefined): Array<{ ts: number | null; code: number; description: string | null }> {
  if (typeof value !== "string" || value === "" || value === "[]") return [];
  try {
    const list = JSON.parse(value) as Array<{ time?: string; code?: number; description?: string | null }>;
    return list.map((xid) => ({
      ts: typeof xid.time === "string" && Number.isFinite(Date.parse(xid.time)) ? Date.parse(xid.time) / 1000 : null,
      code: Number(xid.code),
      description: xid.description ?? null,
    }));
  } catch {
    return [];
  }
}

/**
 * GPU events by the id of the GPU they concern: by uuid where the event has one;
 * otherwise by NVML's index, which numbers the GPUs in PCI bus order.
 */
function eventsByGpu(events: readonly StoredEvent[], gpus: ReadonlyMap<number, StoredGpu>, present: readonly number[]): Map<number, HealthMark[]> {
  const byUid = new Map([...gpus.values()].map((gpu) => [String(gpu.identity.uid), gpu.id]));
  const byIndex = present
    .map((id) => gpus.get(id))
    .filter((gpu): gpu is StoredGpu => gpu !== undefined && parentOf(gpu) === null)
    .sort((a, b) => deviceOrder(a, b) || a.id - b.id)
    .map((gpu) => gpu.id);
  const marks = new Map<number, HealthMark[]>();
  for (const event of events) {
    const kind = GPU_EVENTS[event.kind];
    if (!kind) continue;
    const gpuId = event.gpu_uuid !== null ? byUid.get(event.gpu_uuid) : event.gpu_index !== null ? byIndex[event.gpu_index] : undefined;
    if (gpuId === undefined) continue;
    let list = marks.get(gpuId);
    if (!list) marks.set(gpuId, (list = []));
    list.push({ ts: event.ts, kind, text: event.detail });
  }
  return marks;
}

function uploadReport(ledger: readonly LedgerWindow[], configured: boolean): UploadReport {
  const report: UploadReport = { configured, windows: ledger.length, delivered: 0, pending: 0, failed: 0, retried: 0, attempts: 0, lastFailure: null, problems: [] };
  for (const window of ledger) {
    if (window.send_state === "sent") report.delivered++;
    else if (window.send_state === "failed") report.failed++;
    else report.pending++;
    report.attempts += window.attempts;
    const retried = window.attempts > 1;
    if (retried) report.retried++;
    const failure = window.lastFailure ?? (window.last_error && window.last_attempt !== null ? { at: window.last_attempt, error: window.last_error } : null);
    if (failure && (report.lastFailure === null || failure.at > report.lastFailure.at)) {
      report.lastFailure = { at: failure.at, windowStart: window.start, error: failure.error };
    }
    if (retried || window.send_state === "failed") {
      report.problems.push({
        windowStart: window.start,
        state: window.send_state,
        attempts: window.attempts,
        lastAttempt: window.last_attempt,
        lastError: window.last_error ?? failure?.error ?? null,
      });
    }
  }
  report.problems.sort((a, b) => b.windowStart - a.windowStart);
  return report;
}

/**
 * "+01:00 (Europe/Berlin)": the offset at `from`, and the zone's name where the
 * runtime knows it; "+02:00 to +01:00 (Europe/Berlin)" where the offset at `to` differs.
 */
export function timeZoneName(from: number, to: number): string {
  const offsetText = (at: number) => {
    const offset = -new Date(at * 1000).getTimezoneOffset();
    const sign = offset < 0 ? "-" : "+";
    return `${sign}${String(Math.floor(Math.abs(offset) / 60)).padStart(2, "0")}:${String(Math.abs(offset) % 60).padStart(2, "0")}`;
  };
  const [start, end] = [offsetText(from), offsetText(to)];
  const offsets = start === end ? start : `${start} to ${end}`;
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return zone ? `${offsets} (${zone})` : offsets;
}

function share(part: number, whole: number): number {
  return whole > 0 ? round(Math.min(1, part / whole), 4) : 0;
}

function maxOf(a: number | null, b: number | null): number | null {
  return b === null ? a : a === null || b > a ? b : a;
}

function scaled(value: number | string | null | undefined, divisor: number, digits: number): number | null {
  const n = numberOrNull(value);
  return n === null ? null : round(n / divisor, digits);
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

function roundOrNull(value: number | null, digits: number): number | null {
  return value === null ? null : round(value, digits);
}

function numberOrNull(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

function stringOrNull(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}
