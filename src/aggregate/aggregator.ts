// Turns closed windows of raw samples into stored summaries, catching up on every
// window missed while the agent was down.

import { xidDescription } from "../metrics/xid.ts";
import type { Store } from "../store/store.ts";
import type { GpuWindowSummary } from "../store/windows.ts";
import type { WindowXid } from "./windowFields.ts";
import { aggregateWindow, baselineFrom, closedWindowStarts } from "./windows.ts";

export interface AggregationSettings {
  periodSeconds: number;
  intervalSeconds: number;
}

/** A long downtime is caught up over several calls, so one tick never blocks for long. */
const MAX_WINDOWS_PER_CALL = 1000;
const DAY = 86_400;

/**
 * Aggregates every closed window after the last stored one, from the window of
 * the first sample on. A window without samples still gets a summary per GPU
 * that was present before it, with coverage 0: "unmonitored" differs from "idle".
 * Returns the window starts written.
 */
export function aggregateClosedWindows(store: Store, now: number, settings: AggregationSettings, maxWindows = MAX_WINDOWS_PER_CALL): number[] {
  const first = store.samples.firstTs();
  if (first === null) return [];
  const lastEnd = store.windows.lastEnd();
  // After a change of window length, start at the first new-length window that does
  // not overlap a stored one, so no sample is counted twice.
  const from = lastEnd === null ? first : Math.ceil(lastEnd / settings.periodSeconds) * settings.periodSeconds;
  return closedWindowStarts(from, now, settings.periodSeconds)
    .slice(0, maxWindows)
    .filter((start) => aggregateWindowAt(store, start, settings, now));
}

/** Aggregates the window starting at `start` and stores it; false when it was stored before. */
export function aggregateWindowAt(store: Store, start: number, settings: AggregationSettings, now: number): boolean {
  const summaries = summarizeWindow(store, start, settings);
  // Who used each GPU: the window's ticks become its rows, before the window is stored (a
  // window readers see has them), and never into a window stored before (it stays as it was).
  if (!store.windows.has(start)) store.processes.fold(start, start + settings.periodSeconds);
  return store.windows.write(start, settings.periodSeconds, settings.intervalSeconds, now, summaries);
}

/** Each GPU's summary of the window starting at `start`, from the stored samples; nothing is written (a report reads an open window so). */
export function summarizeWindow(store: Store, start: number, settings: AggregationSettings): GpuWindowSummary[] {
  const from = baselineFrom(start, settings.intervalSeconds);
  const end = start + settings.periodSeconds;
  const expectedGpus = store.gpus.seenBefore(start, DAY);
  const xids = xidsByGpu(store, start, end);
  // One GPU at a time: an hour of 1 s samples of 8 GPUs read at once is megabytes
  // that the allocator keeps as the agent's high-water mark.
  const gpuIds = [...new Set([...expectedGpus, ...store.samples.gpusBetween(from, end)])].sort((a, b) => a - b);
  return gpuIds.flatMap((gpuId) =>
    aggregateWindow({
      start,
      periodSeconds: settings.periodSeconds,
      intervalSeconds: settings.intervalSeconds,
      series: store.samples.series(from, end, gpuId),
      expectedGpus: expectedGpus.includes(gpuId) ? [gpuId] : [],
      xids,
    }),
  );
}

/** The window's XIDs, by the id of the GPU whose uuid they carry. */
function xidsByGpu(store: Store, from: number, to: number): Map<number, WindowXid[]> {
  const byGpu = new Map<number, WindowXid[]>();
  const events = store.events.between(from, to, "xid");
  if (events.length === 0) return byGpu;
  const ids = new Map([...store.gpus.all()].map(([id, gpu]) => [gpu.identity.uid, id]));
  for (const event of events) {
    const gpuId = event.gpu_uuid === null ? undefined : ids.get(event.gpu_uuid);
    if (gpuId === undefined || event.code === null) continue;
    let list = byGpu.get(gpuId);
    if (!list) byGpu.set(gpuId, (list = []));
    list.push({ ts: event.ts, code: event.code, description: xidDescription(event.code) });
  }
  return byGpu;
}

export function aggregationPeriodSeconds(collection: { aggregation_interval_hours: number; aggregation_interval_seconds?: number | undefined }): number {
  return collection.aggregation_interval_seconds ?? Math.round(collection.aggregation_interval_hours * 3600);
}
