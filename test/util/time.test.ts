import { describe, expect, test } from "bun:test";
import { formatTime, parseTime, TimeParseError } from "../../src/util/time.ts";

/** A fixed "now" for the absolute forms, which must not depend on it. */
const NOW = Date.UTC(2026, 11, 6, 15, 2, 12) / 1000;

const utc = (...parts: [number, number, number, number?, number?, number?]) =>
  Date.UTC(parts[0], parts[1] - 1, parts[2], parts[3] ?? 0, parts[4] ?? 0, parts[5] ?? 0) / 1000;

describe("times on input", () => {
  test("ISO 8601 with an offset or Z", () => {
    expect(parseTime("2024-03-20T14:30:00Z", NOW)).toBe(utc(2024, 3, 20, 14, 30));
    expect(parseTime("2024-03-20T14:30:00+02:00", NOW)).toBe(utc(2024, 3, 20, 12, 30));
    expect(parseTime("2024-03-20T14:30:00-0530", NOW)).toBe(utc(2024, 3, 20, 20, 0));
    expect(parseTime("2024-03-20T14:30:00.250Z", NOW)).toBe(utc(2024, 3, 20, 14, 30));
  });
  test("without an offset it is local time", () => {
    const local = new Date(2024, 2, 20, 14, 30, 0).getTime() / 1000;
    expect(parseTime("2024-03-20T14:30:00", NOW)).toBe(local);
    expect(parseTime("2024-03-20 14:30", NOW)).toBe(local);
    expect(parseTime("2024-03-20 14:30:00", NOW)).toBe(local);
    expect(parseTime("2024-03-20", NOW)).toBe(new Date(2024, 2, 20).getTime() / 1000);
  });
  test("a bad time is an error that shows accepted examples", () => {
    for (const bad of ["yesterdays", "-2x", "2 fortnights ago", "-1.5h", "2024-13-01", "2024-02-30", "2024-03-20T25:00", "14:30"]) {
      expect(() => parseTime(bad, NOW)).toThrow(TimeParseError);
    }
    expect(() => parseTime("noon", NOW)).toThrow('use "2024-03-20T14:30:00", "2024-03-20 14:30"');
  });
  test("offsets run from -14:00 to +14:00; beyond, or with minutes past 59, the time is refused", () => {
    expect(parseTime("2024-03-20T14:30:00+14:00", NOW)).toBe(utc(2024, 3, 20, 0, 30));
    expect(parseTime("2024-03-20T14:30:00-12:00", NOW)).toBe(utc(2024, 3, 21, 2, 30));
    for (const bad of ["2024-03-20T14:30+25:00", "2024-03-20T14:30:00-14:30", "2024-03-20T14:30:00+0199", "2024-03-20T14:30+99"]) {
      expect(() => parseTime(bad, NOW)).toThrow(`'${bad}' has an offset beyond ±14:00`);
    }
  });
});

describe("times relative to now", () => {
  test("now, and -N with a unit (s, m, h, d, w) counted back from it", () => {
    expect(parseTime("now", NOW)).toBe(NOW);
    expect(parseTime(" NOW ", NOW)).toBe(NOW);
    expect(parseTime("now", NOW + 0.75)).toBe(NOW); // whole seconds, as every other form
    expect(parseTime("-30s", NOW)).toBe(NOW - 30);
    expect(parseTime("-90m", NOW)).toBe(NOW - 90 * 60);
    expect(parseTime("-2h", NOW)).toBe(NOW - 2 * 3600);
    expect(parseTime("-7d", NOW)).toBe(NOW - 7 * 86_400);
    expect(parseTime("-1w", NOW)).toBe(NOW - 7 * 86_400);
    expect(parseTime("-2H", NOW)).toBe(NOW - 2 * 3600);
  });

  test('"N units ago", singular or plural', () => {
    expect(parseTime("1 hour ago", NOW)).toBe(NOW - 3600);
    expect(parseTime("1 minute ago", NOW)).toBe(NOW - 60);
    expect(parseTime("45 minutes ago", NOW)).toBe(NOW - 45 * 60);
    expect(parseTime("3 hours ago", NOW)).toBe(NOW - 3 * 3600);
    expect(parseTime("2 days ago", NOW)).toBe(NOW - 2 * 86_400);
    expect(parseTime("2 weeks ago", NOW)).toBe(NOW - 14 * 86_400);
    expect(parseTime("10 seconds ago", NOW)).toBe(NOW - 10);
    expect(parseTime("1 Day Ago", NOW)).toBe(NOW - 86_400);
  });

  test("today and yesterday are local midnights", () => {
    const now = new Date(2026, 11, 6, 15, 2, 12).getTime() / 1000;
    expect(parseTime("today", now)).toBe(new Date(2026, 11, 6).getTime() / 1000);
    expect(parseTime("yesterday", now)).toBe(new Date(2026, 11, 5).getTime() / 1000);
    const newYear = new Date(2027, 0, 1, 0, 30).getTime() / 1000;
    expect(parseTime("yesterday", newYear)).toBe(new Date(2026, 11, 31).getTime() / 1000);
  });

  test("the error for a bad time shows the relative forms too", () => {
    expect(() => parseTime("soon", NOW)).toThrow("or relative: now, today, yesterday, -90m, -2h, -7d, \"1 hour ago\"");
  });
});

describe("times on output", () => {
  test("ISO 8601 in local time with the offset, to the second", () => {
    const text = formatTime(utc(2024, 3, 20, 14, 30, 5));
    expect(text).toMatch(/^2024-03-2\dT\d\d:\d\d:05[+-]\d\d:\d\d$/);
    expect(parseTime(text, NOW)).toBe(utc(2024, 3, 20, 14, 30, 5));
  });
});
