// A recorded month of fake data for report tests and the report benchmark: GPUs
// sampled every 5 minutes with a working-hours rhythm, written tick by tick and
// aggregated into hourly windows by the agent's own aggregator; the agent down
// for stretches, a GPU lost part-way, XIDs and ECC errors through events, and a
// send ledger with deliveries, retries and failures.

import { aggregateClosedWindows } from "../../src/aggregate/aggregator.ts";
import { ProcessAttribution } from "../../src/aggregate/attribution.ts";
import type { GpuSample, NamedProcess } from "../../src/collect/sample.ts";
import { xidText } from "../../src/metrics/xid.ts";
import { Store } from "../../src/store/store.ts";
import { gpuSample, tickGpus } from "./samples.ts";

export const INTERVAL_SECONDS = 300;
export const PERIOD_SECONDS = 3600;

export interface MonthOptions {
  from: number;
  to: number;
  gpus: number;
  /** Stretches with no samples at all: the agent was down. */
  downtimes?: ReadonlyArray<readonly [number, number]>;
  /** A GPU that stops answering at `at` (a gpu_lost event, an XID 79 just before) and never comes back. */
  lost?: { index: number; at: number };
  /** XIDs as [time, GPU index, code]. */
  xids?: ReadonlyArray<readonly [number, number, number]>;
  /** ECC errors: from this time on the GPU's corrected counter grows by one a sample for an hour. */
  eccAt?: { index: number; at: number };
  /** Send ledger: every window sent once, except these (by window start): retried then sent, failed for good, still pending. */
  ledger?: { retried?: readonly number[]; failed?: readonly number[]; pendingFrom?: number };
  /** Name of the model, per GPU index. */
  model?: (index: number) => string;
  /** The seed for the noise, so every run writes the same month. */
  seed?: number;
  /** Windows are aggregated up to here (default `to`): later samples stay raw, as in the hour in progress. */
  aggregateUntil?: number;
  /** Who runs the work: while a GPU is busy, a process of one of three users (two of them in containers). */
  processes?: boolean;
  /** Where the working hours are (default UTC), whatever this process's own time zone. */
  timeZone?: string;
}

/** Writes the month into a new database at `file` and returns the window starts written. */
export function writeMonth(file: string, options: MonthOptions): number[] {
  const store = Store.open(file);
  try {
    store.ledger.setMeta("driver_version", "570.86.15");
    const random = seededRandom(options.seed ?? 21);
    const clock = wallClock(options.timeZone ?? "UTC");
    const attribution = options.processes ? new ProcessAttribution("on", (value) => value) : null;
    const energy = Array.from({ length: options.gpus }, (_, i) => 9_000_000_000 + i * 1_000_000);
    const corrected = Array.from({ length: options.gpus }, () => 0);
    const ticks: Array<{ ts: number; gpus: ReturnType<typeof tickGpus> }> = [];
    const flush = () => {
      store.samples.writeTicks(ticks);
      ticks.length = 0;
    };
    for (let ts = options.from; ts < options.to; ts += INTERVAL_SECONDS) {
      if (options.downtimes?.some(([a, b]) => ts >= a && ts < b)) continue;
      const gpus: GpuSample[] = [];
      for (let index = 0; index < options.gpus; index++) {
        if (options.lost && index === options.lost.index && ts >= options.lost.at) continue;
        const utilization = workload(clock(ts), index, random);
        const powerMw = 70_000 + utilization * 5_800 + Math.round(random() * 4_000);
        energy[index]! += powerMw * INTERVAL_SECONDS;
        if (options.eccAt && index === options.eccAt.index && ts >= options.eccAt.at && ts < options.eccAt.at + 3600) corrected[index]!++;
        gpus.push(
          gpuSample({
            index,
            uuid: `GPU-7e1c0a52-0000-4000-8000-${String(index).padStart(12, "0")}`,
            name: options.model?.(index) ?? "NVIDIA H100 80GB HBM3",
            serial: `16549230${String(index).padStart(5, "0")}`,
            pciBusId: `00000000:${(0x18 + index * 0x10).toString(16).toUpperCase().padStart(2, "0")}:00.0`,
            gpuUtilizationPercent: utilization,
            memoryUtilizationPercent: Math.round(utilization * 0.6),
            memoryUsedBytes: Math.round((2 + utilization * 0.7) * 1024 ** 3),
            memoryFreeBytes: Math.round((77.6 - utilization * 0.7) * 1024 ** 3),
            powerUsageMilliwatts: powerMw,
            energyMillijoules: energy[index]!,
            temperatureCelsius: Math.round(32 + utilization * 0.42 + random() * 3),
            eccErrorsCorrected: corrected[index]!,
            processes: options.processes ? workOn(index, utilization) : [],
          }),
        );
      }
      const processes = attribution?.tick(ts, INTERVAL_SECONDS, gpus);
      ticks.push({ ts, gpus: tickGpus(gpus).map((gpu, i) => (processes ? { ...gpu, processes: processes[i]! } : gpu)) });
      if (ticks.length >= 500) flush();
    }
    flush();
    const uuid = (index: number) => `GPU-7e1c0a52-0000-4000-8000-${String(index).padStart(12, "0")}`;
    for (const [ts, index, code] of options.xids ?? []) {
      store.events.record(ts, "xid", index, `GPU ${index}: ${xidText(code)}`, { uuid: uuid(index), code });
    }
    if (options.lost) {
      const { index, at } = options.lost;
      store.events.record(at - 60, "xid", index, `GPU ${index}: ${xidText(79)}`, { uuid: uuid(index), code: 79 });
      store.events.record(at, "gpu_lost", index, `GPU ${index}: NVML_ERROR_GPU_IS_LOST: the GPU has fallen off the bus or is otherwise inaccessible`, { code: 15 });
    }
    const written: number[] = [];
    for (;;) {
      const batch = aggregateClosedWindows(store, options.aggregateUntil ?? options.to, { periodSeconds: PERIOD_SECONDS, intervalSeconds: INTERVAL_SECONDS });
      if (batch.length === 0) break;
      written.push(...batch);
    }
    writeLedger(store, written, options.ledger ?? {});
    return written;
  } finally {
    store.close();
  }
}

const USERS = [
  { user: "alice", uid: 1001, containerId: null },
  { user: "bob", uid: 1002, containerId: "b0b".padEnd(64, "0") },
  { user: "carol", uid: 1003, containerId: "ca401".padEnd(64, "1") },
];

/** The training job on a busy GPU: alice on the first half of the GPUs, bob and carol on the rest; none on an idle GPU. */
function workOn(index: number, utilization: number): NamedProcess[] {
  if (utilization < 20) return [];
  const owner = USERS[index < 4 ? 0 : index % 2 === 0 ? 1 : 2]!;
  return [
    {
      kind: "compute",
      pid: 4000 + index,
      usedMemoryBytes: 8 * 1024 ** 3,
      gpuInstanceId: null,
      computeInstanceId: null,
      name: "python3",
      owner: { startTicks: 1000 + index, startedAt: 1_700_000_000, uid: owner.uid, user: owner.user, containerId: owner.containerId, podUid: null, note: null },
      smPercent: utilization,
      memoryPercent: Math.round(utilization / 2),
      encoderPercent: 0,
      decoderPercent: 0,
    },
  ];
}

/** Busy in working hours on weekdays, a little at night, idle at weekends; each GPU its own share. */
function workload(time: { hour: number; weekday: number }, index: number, random: () => number): number {
  const { hour } = time;
  const weekend = time.weekday === 0 || time.weekday === 6;
  const working = !weekend && hour >= 8 && hour < 19;
  const base = working ? 55 + 40 * Math.sin(((hour - 8) / 11) * Math.PI) : weekend ? 4 : 12;
  const share = 1 - index * 0.07;
  const value = base * share + (random() - 0.5) * 22;
  return Math.max(0, Math.min(100, Math.round(value)));
}

function writeLedger(store: Store, windows: readonly number[], plan: NonNullable<MonthOptions["ledger"]>): void {
  for (const start of windows) {
    if (plan.pendingFrom !== undefined && start >= plan.pendingFrom) continue;
    const end = start + PERIOD_SECONDS;
    const attempt = (at: number, outcome: "sent" | "retryable" | "fatal", error: string | null, status: number | null) => ({
      window_start: start,
      attempted_at: at,
      outcome,
      http_status: status,
      error,
      server_uid: outcome === "sent" ? `srv-${start}` : null,
      latency_ms: 40,
    });
    if (plan.failed?.includes(start)) {
      for (let i = 0; i < 3; i++) {
        const last = i === 2;
        store.ledger.recordAttempt(attempt(end + 30 + i * 60, "fatal", "HTTP 422: contract_number unknown to the server", 422), {
          state: last ? "failed" : "pending",
          nextAttemptAt: last ? null : end + 90 + i * 60,
          fatalCount: i + 1,
        });
      }
      continue;
    }
    if (plan.retried?.includes(start)) {
      store.ledger.recordAttempt(attempt(end + 30, "retryable", "HTTP 503: Service Unavailable", 503), { state: "pending", nextAttemptAt: end + 90, fatalCount: 0 });
      store.ledger.recordAttempt(attempt(end + 90, "retryable", "connection refused", null), { state: "pending", nextAttemptAt: end + 210, fatalCount: 0 });
    }
    store.ledger.recordAttempt(attempt(end + 240, "sent", null, 200), { state: "sent", nextAttemptAt: null, fatalCount: 0 });
  }
}

/** The hour of day (with minutes as a fraction) and weekday (0 Sunday) of a time in `timeZone`. */
function wallClock(timeZone: string): (ts: number) => { hour: number; weekday: number } {
  const format = new Intl.DateTimeFormat("en-US", { timeZone, hourCycle: "h23", weekday: "short", hour: "numeric", minute: "numeric" });
  const weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  return (ts) => {
    const parts = Object.fromEntries(format.formatToParts(new Date(ts * 1000)).map((part) => [part.type, part.value]));
    return { hour: Number(parts.hour) + Number(parts.minute) / 60, weekday: weekdays.indexOf(parts.weekday!) };
  };
}

/** mulberry32: a small seeded generator, so the month is the same on every run. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
