// Reads what a report shows from the store: the period's windows, the events and
// the send ledger, and the usage module's figures over the same windows.

import { summarizeWindow, type AggregationSettings } from "../aggregate/aggregator.ts";
import { windowStart } from "../aggregate/windows.ts";
import { readUsage, usageByGpu } from "../query/usage.ts";
import { AGGREGATE_COLUMNS } from "../store/schema.ts";
import type { StoredWindowGpu } from "../store/windows.ts";
import type { StoredEvent } from "../store/events.ts";
import type { Store } from "../store/store.ts";
import { buildReport, type LedgerWindow, type ReportData } from "./data.ts";
import type { Period } from "./period.ts";

/** Events a report marks: a GPU's trouble, and the driver's. */
const REPORTED_EVENTS = ["gpu_lost", "gpu_unavailable", "gpu_unreadable", "gpu_failed", "gpu_recovered", "nvml_unavailable", "nvml_lost", "nvml_reinit", "clock_back"];

export interface ReportFacts {
  host: string;
  agentVersion: string;
  generatedAt: number;
  uploadsConfigured: boolean;
  /** The agent's windows, for those not aggregated yet (read from raw samples). */
  aggregation: AggregationSettings;
}

export function gatherReport(store: Store, period: Period, facts: ReportFacts): ReportData {
  const windows = [...store.windows.between(period.from, period.to)];
  const closedUntil = store.windows.lastEnd();
  const gpus = store.gpus.all();
  const events: StoredEvent[] = REPORTED_EVENTS.flatMap((kind) => store.events.between(period.from, period.to, kind)).sort((a, b) => a.ts - b.ts);
  return buildReport({
    ...facts,
    driverVersion: store.ledger.getMeta("driver_version"),
    period,
    closedUntil,
    windows,
    openWindows: openWindows(store, period, closedUntil, facts),
    gpus,
    usage: usageByGpu(windows, gpus, period.from, period.to),
    events,
    ledger: withLastFailures(store, period),
    attribution: (["user", "container"] as const).map((by) => readUsage(store, period.from, period.to, by)),
  });
}

/** The period's send ledger, each window with its latest failed attempt (a window retried and then sent has one too). */
function withLastFailures(store: Store, period: Period): LedgerWindow[] {
  const failures = new Map(store.ledger.lastFailures(period.from, period.to).map((failure) => [failure.start, { at: failure.at, error: failure.error }]));
  return store.ledger.summaries(period.from, period.to).map((summary) => ({ ...summary, lastFailure: failures.get(summary.start) ?? null }));
}

/**
 * The windows of the period after the last stored one (the hour in progress, or
 * more when the agent has not aggregated for a while), summarised from the raw
 * samples as the aggregator will summarise them.
 */
function openWindows(store: Store, period: Period, closedUntil: number | null, facts: ReportFacts): StoredWindowGpu[] {
  const { periodSeconds } = facts.aggregation;
  const firstSample = store.samples.firstTs();
  if (firstSample === null) return [];
  const end = Math.min(period.to, facts.generatedAt + 1);
  let start = windowStart(Math.max(period.from, closedUntil ?? firstSample, firstSample), periodSeconds);
  if (start < period.from) start += periodSeconds;
  const open: StoredWindowGpu[] = [];
  for (; start < end; start += periodSeconds) {
    if (store.windows.has(start)) continue;
    for (const summary of summarizeWindow(store, start, facts.aggregation)) {
      open.push({
        windowStart: start,
        periodSeconds,
        gpuId: summary.gpuId,
        sampleCount: summary.sampleCount,
        coverage: summary.coverage,
        values: Object.fromEntries(AGGREGATE_COLUMNS.map((column, i) => [column, summary.values[i] ?? null])),
      });
    }
  }
  return open;
}
