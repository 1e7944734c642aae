// What -sc/--show-collection reads: raw samples or a window's summary for a
// time, as batches ready to print.

import { windowStart } from "../aggregate/windows.ts";
import type { Store } from "../store/store.ts";
import { formatTime, parseTime } from "../util/time.ts";
import { SAMPLE_COLUMNS, sampleBatches, WINDOW_COLUMNS, windowBatches } from "./batches.ts";
import type { RecordBatch } from "./writer.ts";

export interface QueryResult {
  batches: Iterable<RecordBatch>;
  /** What was searched, for the "no data" message. */
  searched: string;
  /** The field names of what was searched (a CSV header when nothing was found). */
  columns: readonly string[];
}

/**
 * -sc semantics (DESIGN section 3): an empty TIME shows the current window's raw
 * samples, or the latest sample when the window has none; a TIME on a window start
 * that has been aggregated shows that window's summary; any other TIME shows the
 * raw samples of its minute.
 */
export function showCollection(store: Store, time: string, periodSeconds: number, nowSeconds: number): QueryResult {
  if (time.trim() === "") {
    const start = windowStart(nowSeconds, periodSeconds);
    const current = nonEmpty(sampleBatches(store, start, start + periodSeconds));
    if (current) return { batches: current, searched: `raw samples from ${formatTime(start)} to ${formatTime(start + periodSeconds)}`, columns: SAMPLE_COLUMNS };
    const latest = store.samples.latestTs();
    return {
      batches: latest === null ? [] : sampleBatches(store, latest, latest + 1),
      searched: `raw samples from ${formatTime(start)} to ${formatTime(start + periodSeconds)}, and the latest sample`,
      columns: SAMPLE_COLUMNS,
    };
  }
  const at = parseTime(time, nowSeconds);
  if (at % periodSeconds === 0 && store.windows.has(at)) {
    return { batches: windowBatches(store, at, at + 1), searched: `the aggregate of the window starting ${formatTime(at)}`, columns: WINDOW_COLUMNS };
  }
  const minute = Math.floor(at / 60) * 60;
  return { batches: sampleBatches(store, minute, minute + 60), searched: `raw samples from ${formatTime(minute)} to ${formatTime(minute + 60)}`, columns: SAMPLE_COLUMNS };
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
