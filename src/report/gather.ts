// Reads what a report shows from the store: the period's windows, the events and
// the send ledger, and the usage module's figures over the same windows.

import { usageByGpu } from "../query/usage.ts";
import type { StoredEvent } from "../store/events.ts";
import type { Store } from "../store/store.ts";
import { buildReport, type ReportData } from "./data.ts";
import type { Period } from "./period.ts";

/** Events a report marks: a GPU's trouble, and the driver's. */
const REPORTED_EVENTS = ["gpu_lost", "gpu_unavailable", "gpu_unreadable", "gpu_failed", "gpu_recovered", "nvml_unavailable", "nvml_lost", "nvml_reinit", "clock_back"];

export interface ReportFacts {
  host: string;
  agentVersion: string;
  generatedAt: number;
  uploadsConfigured: boolean;
}

export function gatherReport(store: Store, period: Period, facts: ReportFacts): ReportData {
  const windows = [...store.windows.between(period.from, period.to)];
  const gpus = store.gpus.all();
  const events: StoredEvent[] = REPORTED_EVENTS.flatMap((kind) => store.events.between(period.from, period.to, kind)).sort((a, b) => a.ts - b.ts);
  return buildReport({
    ...facts,
    driverVersion: store.ledger.getMeta("driver_version"),
    period,
    closedUntil: store.windows.lastEnd(),
    windows,
    gpus,
    usage: usageByGpu(windows, gpus, period.from, period.to),
    events,
    ledger: store.ledger.summaries(period.from, period.to),
  });
}
