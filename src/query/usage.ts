// Usage to bill by, from stored windows only: per group (a GPU, or who used it:
// a user, a process, a container, a pod), the time present, the time busy, the
// energy, the average utilization and the peak memory over a range. The `usage` command and the report's header both read it,
// so their numbers are the same numbers.
//
// A window counts whole when it starts inside the range: windows are the unit a
// contract is billed on, and a range cut inside one would need raw samples.

import type { StoredGpu } from "../store/gpus.ts";
import type { Owner, OwnerUsage } from "../store/processes.ts";
import type { Store } from "../store/store.ts";
import type { StoredWindowGpu } from "../store/windows.ts";
import { formatUtc } from "../util/time.ts";

export type UsageGrouping = "gpu" | Owner;
export const USAGE_GROUPINGS: readonly UsageGrouping[] = ["gpu", "user", "process", "container", "pod"];

/** Where a group's energy figure comes from. */
export type EnergyBasis =
  /** The GPU's own energy counter or power integral, all of it. */
  | "measured"
  /** Each window's GPU energy split among those on the GPU by their SM share. */
  | "sm_share"
  /** ...by their time present, where an SM share was not known for all of them. */
  | "time_present"
  /** Some windows one way, some the other. */
  | "mixed";

export interface UsageRow {
  /** What identifies the group (a GPU's UUID). */
  key: string;
  /** Words for people beside the key (a GPU's model). */
  label: string | null;
  /** Seconds with samples: the time the group was there to bill. */
  gpuSeconds: number;
  /** Seconds with the GPU busy (the driver's measure, else whole intervals above 0 %); null when no window knew. */
  busySeconds: number | null;
  /** mJ over the range; null when no window had an energy figure. */
  energyMj: number | null;
  /** null with no energy figure. */
  energyBasis: EnergyBasis | null;
  /** Average utilization in percent, weighted by samples; null without one. */
  utilizationAverage: number | null;
  /** Highest memory used, bytes; null without one. */
  memoryPeakBytes: number | null;
  /** Windows that counted toward the row. */
  windows: number;
  /** A MIG device's GPU (its UUID): its row follows the GPU's and is not added to the total, which the GPU's row already holds. */
  parent: string | null;
  /** For a process: who ran it and when it started (ISO 8601 UTC). */
  detail?: Readonly<Record<string, string | number | null>>;
}

export interface UsageSummary {
  from: number;
  to: number;
  by: UsageGrouping;
  /** Sorted by GPU-hours, most first (then by key). */
  rows: UsageRow[];
  /** Every row summed (the average over all samples, the highest peak). */
  total: UsageRow;
}

/** Running sums of one group. */
class Tally {
  gpuSeconds = 0;
  busySeconds: number | null = null;
  energyMj: number | null = null;
  utilizationSum = 0;
  utilizationSamples = 0;
  memoryPeakBytes: number | null = null;
  windows = 0;

  add(window: StoredWindowGpu): void {
    const values = window.values;
    this.windows++;
    this.gpuSeconds += presentSeconds(window);
    const busy = numberOrNull(values.busy_seconds);
    if (busy !== null) this.busySeconds = (this.busySeconds ?? 0) + busy;
    const energy = numberOrNull(values.energy_mj);
    if (energy !== null) this.energyMj = (this.energyMj ?? 0) + energy;
    // Where NVML gives no utilization (MIG), GPM's graphics activity (stored in hundredths of a percent) is the usage.
    const graphics = numberOrNull(values.graphics_activity);
    const utilization = numberOrNull(values.gpu_utilization) ?? (graphics === null ? null : graphics / 100);
    if (utilization !== null && window.sampleCount > 0) {
      this.utilizationSum += utilization * window.sampleCount;
      this.utilizationSamples += window.sampleCount;
    }
    const memory = numberOrNull(values.memory_used_max);
    if (memory !== null && (this.memoryPeakBytes === null || memory > this.memoryPeakBytes)) this.memoryPeakBytes = memory;
  }

  merge(other: Tally): void {
    this.windows += other.windows;
    this.gpuSeconds += other.gpuSeconds;
    if (other.busySeconds !== null) this.busySeconds = (this.busySeconds ?? 0) + other.busySeconds;
    if (other.energyMj !== null) this.energyMj = (this.energyMj ?? 0) + other.energyMj;
    this.utilizationSum += other.utilizationSum;
    this.utilizationSamples += other.utilizationSamples;
    if (other.memoryPeakBytes !== null && (this.memoryPeakBytes === null || other.memoryPeakBytes > this.memoryPeakBytes)) {
      this.memoryPeakBytes = other.memoryPeakBytes;
    }
  }

  row(key: string, label: string | null, parent: string | null = null): UsageRow {
    return {
      key,
      label,
      gpuSeconds: roundMs(this.gpuSeconds),
      busySeconds: this.busySeconds === null ? null : roundMs(this.busySeconds),
      energyMj: this.energyMj === null ? null : Math.round(this.energyMj),
      energyBasis: this.energyMj === null ? null : "measured",
      utilizationAverage: this.utilizationSamples > 0 ? Math.round((this.utilizationSum / this.utilizationSamples) * 100) / 100 : null,
      memoryPeakBytes: this.memoryPeakBytes,
      windows: this.windows,
      parent,
    };
  }
}

/**
 * A window's seconds with samples: the period less its unavailable seconds, or
 * (windows stored before those were kept) its coverage of the period.
 */
export function presentSeconds(window: StoredWindowGpu): number {
  const unavailable = numberOrNull(window.values.unavailable_seconds);
  if (unavailable !== null) return Math.max(0, window.periodSeconds - unavailable);
  return Math.round(window.coverage * window.periodSeconds * 1000) / 1000;
}

/** Usage per GPU from window summaries (any order). Pure. */
export function usageByGpu(windows: Iterable<StoredWindowGpu>, gpus: ReadonlyMap<number, StoredGpu>, from: number, to: number): UsageSummary {
  const tallies = new Map<number, Tally>();
  for (const window of windows) {
    let tally = tallies.get(window.gpuId);
    if (!tally) tallies.set(window.gpuId, (tally = new Tally()));
    tally.add(window);
  }
  const total = new Tally();
  const rows: UsageRow[] = [];
  for (const [gpuId, tally] of tallies) {
    const identity = gpus.get(gpuId)?.identity;
    const parent = typeof identity?.parent_uid === "string" ? identity.parent_uid : null;
    const name = identity?.name === undefined ? null : (identity.name as string | null);
    const label = parent !== null && typeof identity?.mig_profile === "string" ? `MIG ${identity.mig_profile}` : name;
    rows.push(tally.row(String(identity?.uid ?? `gpu ${gpuId}`), label, parent));
    if (parent === null) total.merge(tally);
  }
  rows.sort((a, b) => b.gpuSeconds - a.gpuSeconds || a.key.localeCompare(b.key));
  return { from, to, by: "gpu", rows: withMigDevicesUnderTheirGpu(rows), total: total.row("total", null) };
}

/** Each GPU's MIG devices right after it (in the order given); a MIG device whose GPU has no row stays where it is. */
function withMigDevicesUnderTheirGpu(rows: UsageRow[]): UsageRow[] {
  const keys = new Set(rows.map((row) => row.key));
  const children = new Map<string, UsageRow[]>();
  for (const row of rows) {
    if (row.parent === null || !keys.has(row.parent)) continue;
    const list = children.get(row.parent);
    if (list) list.push(row);
    else children.set(row.parent, [row]);
  }
  return rows.filter((row) => row.parent === null || !keys.has(row.parent)).flatMap((row) => [row, ...(children.get(row.key) ?? [])]);
}

/**
 * Usage per user, process, container or pod from the per-window rows of who used
 * each GPU (sums made by the store). Busy time is the SM share × time present (a
 * GPU's busy seconds cannot be told apart by process); for a user, time present is
 * the time with at least one of their processes on the GPU; for a process,
 * container or pod it sums each process's time (two side by side count twice). Pure.
 */
export function usageByOwner(owners: readonly OwnerUsage[], by: Owner, from: number, to: number): UsageSummary {
  const rows = owners.map((owner) => ownerRow(owner, by));
  rows.sort((a, b) => b.gpuSeconds - a.gpuSeconds || a.key.localeCompare(b.key));
  const sum = (pick: (owner: OwnerUsage) => number | null) =>
    owners.reduce<number | null>((total, owner) => (pick(owner) === null ? total : (total ?? 0) + pick(owner)!), null);
  const total: OwnerUsage = {
    key: "total",
    pid: null,
    name: null,
    user: null,
    startedAt: null,
    gpuSeconds: sum((o) => o.gpuSeconds) ?? 0,
    smSeconds: sum((o) => o.smSeconds),
    smKnownSeconds: sum((o) => o.smKnownSeconds) ?? 0,
    memoryMax: owners.reduce<number | null>((peak, o) => (o.memoryMax !== null && (peak === null || o.memoryMax > peak) ? o.memoryMax : peak), null),
    windows: sum((o) => o.windows) ?? 0, // as for GPUs: the rows' windows added up
    energyMj: sum((o) => o.energyMj),
    energyBySm: sum((o) => o.energyBySm) ?? 0,
    energyByTime: sum((o) => o.energyByTime) ?? 0,
  };
  const totalRow = ownerRow(total, by);
  delete totalRow.detail;
  return { from, to, by, rows, total: { ...totalRow, key: "total" } };
}

const NO_OWNER: Record<Owner, string> = { user: "(unknown)", process: "?", container: "(none)", pod: "(none)" };

function ownerRow(owner: OwnerUsage, by: Owner): UsageRow {
  const key = by === "process" ? String(owner.pid) : owner.key === null ? NO_OWNER[by] : String(owner.key);
  return {
    key,
    label: by === "process" ? owner.name : null,
    parent: null,
    gpuSeconds: roundMs(owner.gpuSeconds),
    busySeconds: owner.smSeconds === null ? null : roundMs(owner.smSeconds),
    energyMj: owner.energyMj === null ? null : Math.round(owner.energyMj),
    energyBasis: owner.energyMj === null ? null : owner.energyByTime === 0 ? "sm_share" : owner.energyBySm === 0 ? "time_present" : "mixed",
    utilizationAverage: owner.smSeconds !== null && owner.smKnownSeconds > 0 ? Math.round((owner.smSeconds / owner.smKnownSeconds) * 10000) / 100 : null,
    memoryPeakBytes: owner.memoryMax,
    windows: owner.windows,
    ...(by === "process" ? { detail: { user: owner.user, started_at: owner.startedAt === null ? null : formatUtc(owner.startedAt) } } : {}),
  };
}

/** Usage over windows starting in [from, to), grouped `by`. */
export function readUsage(store: Store, from: number, to: number, by: UsageGrouping): UsageSummary {
  switch (by) {
    case "gpu":
      return usageByGpu(store.windows.between(from, to), store.gpus.all(), from, to);
    default:
      return usageByOwner(store.processes.usageBy(by, from, to), by, from, to);
  }
}

function numberOrNull(value: number | string | null | undefined): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

function roundMs(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}
