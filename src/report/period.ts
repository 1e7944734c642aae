// Which stretch of time a report covers when none is given, and how a period is
// named in a file name. Calendar months and days are the local time's. Pure.

export interface Period {
  from: number;
  to: number;
}

/** Local midnight at the start of the month `monthsBack` months before the one holding `epochSeconds`. */
export function monthStart(epochSeconds: number, monthsBack = 0): number {
  const date = new Date(epochSeconds * 1000);
  return new Date(date.getFullYear(), date.getMonth() - monthsBack, 1).getTime() / 1000;
}

/**
 * When the store's data begins: the first window's start or the first raw sample,
 * whichever is earlier (an agent started this hour has samples but no window yet).
 */
export function firstStored(firstWindowStart: number | null, firstSampleTs: number | null): number | null {
  if (firstWindowStart === null) return firstSampleTs;
  return firstSampleTs === null ? firstWindowStart : Math.min(firstWindowStart, firstSampleTs);
}

/**
 * The last full calendar month before `now`; or, where nothing was stored before
 * this month began (an agent installed this month), the month so far.
 */
export function defaultPeriod(now: number, firstStoredAt: number | null): Period {
  const thisMonth = monthStart(now);
  if (firstStoredAt !== null && firstStoredAt >= thisMonth) return { from: thisMonth, to: Math.floor(now) };
  return { from: monthStart(now, 1), to: thisMonth };
}

/** A period's ends for a file name: the local date, with the time where it is not midnight (2026-11-01, 2026-11-16T1430). */
export function periodFileLabel(period: Period): string {
  return `${fileTime(period.from)}-${fileTime(period.to)}`;
}

function fileTime(epochSeconds: number): string {
  const date = new Date(epochSeconds * 1000);
  const pad = (n: number) => String(n).padStart(2, "0");
  const day = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
  const midnight = date.getHours() === 0 && date.getMinutes() === 0 && date.getSeconds() === 0;
  return midnight ? day : `${day}T${pad(date.getHours())}${pad(date.getMinutes())}`;
}

/** The default report file: gpu_monitor-report-<host>-<from>-<to>.<ext>, the host reduced to characters safe in a file name. */
export function defaultReportFile(host: string, period: Period, extension: "html" | "json"): string {
  const safeHost = host.replace(/[^A-Za-z0-9._-]+/g, "_") || "host";
  return `gpu_monitor-report-${safeHost}-${periodFileLabel(period)}.${extension}`;
}
