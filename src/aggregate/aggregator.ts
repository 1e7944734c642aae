// Turns closed windows of raw samples into stored aggregates, catching up on
// every window missed while the agent was down.

import type { Store } from "../store/store.ts";
import { RunningWindow } from "./running.ts";
import { aggregateWindow, closedWindowStarts, windowStart, type RawSample } from "./windows.ts";

export interface AggregationSettings {
  periodSeconds: number;
  intervalSeconds: number;
}

/**
 * Aggregates every closed window after the last stored one, from the window of
 * the first sample on. A window without samples still gets a record per GPU
 * that was present before it, with coverage 0: "unmonitored" differs from "idle".
 * Returns the window starts written.
 */
export function aggregateClosedWindows(
  store: Store,
  now: number,
  settings: AggregationSettings,
  running: RunningWindow | null = null,
  maxWindows = MAX_WINDOWS_PER_CALL,
): number[] {
  const first = store.firstSampleTs();
  if (first === null) return [];
  const lastEnd = store.lastWindowEnd();
  // After a change of window length, start at the first new-length window that does
  // not overlap a stored one, so no sample is counted twice.
  const from = lastEnd === null ? first : Math.ceil(lastEnd / settings.periodSeconds) * settings.periodSeconds;
  const written: number[] = [];
  for (const start of closedWindowStarts(from, now, settings.periodSeconds).slice(0, maxWindows)) {
    if (aggregateWindowAt(store, start, settings, now, running?.start === start && running.whole ? running : null)) written.push(start);
  }
  return written;
}

/** A long downtime is caught up over several ticks, so one tick never blocks for long. */
const MAX_WINDOWS_PER_CALL = 1000;
const DAY = 86_400;

/**
 * Aggregates the window starting at `start` and stores it; false when it was stored
 * before. A running window that followed every tick of it gives the aggregate at no
 * cost; otherwise it is computed from the stored samples.
 */
export function aggregateWindowAt(
  store: Store,
  start: number,
  settings: AggregationSettings,
  now: number,
  running: RunningWindow | null = null,
): boolean {
  const expectedGpus = store.gpusSeenBefore(start, DAY);
  if (running) return store.writeWindow(start, settings.periodSeconds, settings.intervalSeconds, now, running.result(expectedGpus));
  const series = store.windowSeries(start, start + settings.periodSeconds);
  const previous = store.lastSamplesBefore(start, 2 * settings.intervalSeconds);
  const aggregates = aggregateWindow({
    start,
    periodSeconds: settings.periodSeconds,
    intervalSeconds: settings.intervalSeconds,
    series,
    previous,
    expectedGpus,
  });
  return store.writeWindow(start, settings.periodSeconds, settings.intervalSeconds, now, aggregates);
}

/**
 * The running window after a stored tick: the same one fed with it, or a new one
 * at the first tick of a window. A window that cannot be followed whole (it held
 * samples before the agent started, or ticks came out of order) is marked so,
 * once, and aggregated from the stored samples when it closes.
 */
export function followTick(
  store: Store,
  running: RunningWindow | null,
  tickTs: number,
  rows: readonly RawSample[],
  settings: AggregationSettings,
): RunningWindow {
  const start = windowStart(tickTs, settings.periodSeconds);
  if (running?.start !== start) {
    const heldSamples = store.hasSamplesBetween(start, tickTs);
    const previous = heldSamples ? new Map() : store.lastSamplesBefore(start, 2 * settings.intervalSeconds);
    running = new RunningWindow(start, settings.periodSeconds, settings.intervalSeconds, previous);
    running.whole = !heldSamples;
  }
  running.add(tickTs, rows);
  return running;
}

export function aggregationPeriodSeconds(collection: {
  aggregation_interval_hours: number;
  aggregation_interval_seconds?: number | undefined;
}): number {
  return collection.aggregation_interval_seconds ?? Math.round(collection.aggregation_interval_hours * 3600);
}
