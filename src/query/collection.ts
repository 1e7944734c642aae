// What -sc/--show-collection and `export` read: raw samples or window
// aggregates for a time, a window or a range, as groups ready to print.

import { windowStart } from "../aggregate/windows.ts";
import type { Store } from "../store/store.ts";
import { groupByTime, type RecordGroup } from "./output.ts";
import { aggregateRecord, rawRecord } from "./records.ts";
import { formatTime, parseTime } from "./time.ts";

export interface QueryResult {
  groups: Iterable<RecordGroup>;
  /** What was searched, for the "no data" message. */
  searched: string;
}

export function rawGroups(store: Store, from: number, to: number): Iterable<RecordGroup> {
  return groupByTime(store.samplesBetween(from, to), (row) => row.ts, rawRecord);
}

export function aggregateGroups(store: Store, from: number, to: number): Iterable<RecordGroup> {
  return groupByTime(
    store.aggregatesBetween(from, to),
    (row) => row.window_start,
    aggregateRecord,
    (row) => row.period_seconds,
  );
}

/**
 * -sc semantics (DESIGN section 3): an empty TIME shows the current window's raw
 * samples, or the latest sample when the window has none; a TIME on a window start
 * that has been aggregated shows that window's aggregate; any other TIME shows the
 * raw samples of its minute.
 */
export function showCollection(store: Store, time: string, periodSeconds: number, nowSeconds: number): QueryResult {
  if (time.trim() === "") {
    const start = windowStart(nowSeconds, periodSeconds);
    const current = nonEmpty(rawGroups(store, start, start + periodSeconds));
    if (current) return { groups: current, searched: `raw samples from ${formatTime(start)} to ${formatTime(start + periodSeconds)}` };
    const latest = store.latestSampleTs();
    return {
      groups: latest === null ? [] : rawGroups(store, latest, latest + 1),
      searched: `raw samples from ${formatTime(start)} to ${formatTime(start + periodSeconds)}, and the latest sample`,
    };
  }
  const at = parseTime(time);
  if (at % periodSeconds === 0 && store.hasWindow(at)) {
    return { groups: aggregateGroups(store, at, at + 1), searched: `the aggregate of the window starting ${formatTime(at)}` };
  }
  const minute = Math.floor(at / 60) * 60;
  return {
    groups: rawGroups(store, minute, minute + 60),
    searched: `raw samples from ${formatTime(minute)} to ${formatTime(minute + 60)}`,
  };
}

/** The iterable if it yields anything (the first item is kept), else null. */
function nonEmpty<T>(items: Iterable<T>): Iterable<T> | null {
  const iterator = items[Symbol.iterator]();
  const first = iterator.next();
  if (first.done) return null;
  return (function* () {
    yield first.value;
    for (let next = iterator.next(); !next.done; next = iterator.next()) yield next.value;
  })();
}
