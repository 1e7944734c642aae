// Times on the command line and in output (DESIGN section 3).

export class TimeParseError extends Error {
  override readonly name = "TimeParseError";
}

const TIME_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

export const TIME_EXAMPLES =
  '"2024-03-20T14:30:00", "2024-03-20 14:30", "2024-03-20T14:30:00+02:00" or "2024-03-20T12:30:00Z"; ' +
  'or relative: now, today, yesterday, -90m, -2h, -7d, "1 hour ago"';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };
const SHORT_RELATIVE = /^-(\d+)([smhdw])$/i;
const WORDS_AGO = /^(\d+)\s*(second|minute|hour|day|week)s?\s+ago$/i;

/**
 * Epoch seconds of an ISO 8601 time (with or without offset; without one it is
 * local time), "YYYY-MM-DD HH:MM[:SS]", a date alone (local midnight), or a time
 * relative to `nowSeconds`: now, today and yesterday (local midnight), -90m, -2h,
 * -7d (s, m, h, d, w), "N seconds/minutes/hours/days/weeks ago".
 */
export function parseTime(text: string, nowSeconds: number): number {
  const relative = parseRelativeTime(text.trim(), nowSeconds);
  if (relative !== null) return relative;
  const match = TIME_PATTERN.exec(text.trim());
  if (!match) throw new TimeParseError(`'${text}' is not a time: use ${TIME_EXAMPLES}`);
  const [, y, mo, d, h = "0", mi = "0", s = "0", zone] = match;
  const parts = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number];
  const [year, month, day, hour, minute, second] = parts;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) {
    throw new TimeParseError(`'${text}' is not a valid time: use ${TIME_EXAMPLES}`);
  }
  let millis: number;
  if (zone) {
    const offset = offsetMinutes(zone);
    // Real offsets run from -12:00 to +14:00; +25:00 is a typo, not a place.
    if (offset === null) throw new TimeParseError(`'${text}' has an offset beyond ±14:00: use ${TIME_EXAMPLES}`);
    millis = Date.UTC(year, month - 1, day, hour, minute, second) - offset * 60_000;
    const check = new Date(Date.UTC(year, month - 1, day));
    if (check.getUTCDate() !== day) throw new TimeParseError(`'${text}' is not a valid date: use ${TIME_EXAMPLES}`);
  } else {
    const local = new Date(year, month - 1, day, hour, minute, second);
    if (local.getDate() !== day || local.getMonth() !== month - 1) {
      throw new TimeParseError(`'${text}' is not a valid date: use ${TIME_EXAMPLES}`);
    }
    millis = local.getTime();
  }
  return Math.floor(millis / 1000);
}

/** Epoch seconds of a relative time, or null when `text` is not one. */
function parseRelativeTime(text: string, nowSeconds: number): number | null {
  const word = text.toLowerCase();
  if (word === "now") return Math.floor(nowSeconds);
  if (word === "today" || word === "yesterday") {
    const midnight = new Date(nowSeconds * 1000);
    midnight.setHours(0, 0, 0, 0);
    if (word === "yesterday") midnight.setDate(midnight.getDate() - 1); // a calendar day: 23 or 25 h across a DST change
    return Math.floor(midnight.getTime() / 1000);
  }
  const short = SHORT_RELATIVE.exec(text);
  if (short) return Math.floor(nowSeconds) - Number(short[1]) * UNIT_SECONDS[short[2]!.toLowerCase()]!;
  const ago = WORDS_AGO.exec(text);
  // The unit words start with the short units' letters: "hour" is h.
  if (ago) return Math.floor(nowSeconds) - Number(ago[1]) * UNIT_SECONDS[ago[2]![0]!.toLowerCase()]!;
  return null;
}

/** Minutes east of UTC, or null for an offset no place has (beyond ±14:00, or minutes past 59). */
function offsetMinutes(zone: string): number | null {
  if (zone.toUpperCase() === "Z") return 0;
  const sign = zone.startsWith("-") ? -1 : 1;
  const digits = zone.slice(1).replace(":", "");
  const hours = Number(digits.slice(0, 2));
  const minutes = Number(digits.slice(2) || "0");
  const total = hours * 60 + minutes;
  return minutes > 59 || total > 14 * 60 ? null : sign * total;
}

/** ISO 8601 in UTC to the second, e.g. 2024-03-20T14:00:00Z (uploads, snapshot). */
export function formatUtc(epochSeconds: number): string {
  return `${new Date(epochSeconds * 1000).toISOString().slice(0, 19)}Z`;
}

/** ISO 8601 in local time with its offset, e.g. 2024-03-20T14:30:00+01:00. */
export function formatTime(epochSeconds: number): string {
  const date = new Date(epochSeconds * 1000);
  const pad = (n: number, width = 2) => String(Math.abs(n)).padStart(width, "0");
  const offset = -date.getTimezoneOffset();
  const sign = offset < 0 ? "-" : "+";
  return (
    `${pad(date.getFullYear(), 4)}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}` +
    `${sign}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`
  );
}
