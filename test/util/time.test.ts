import { describe, expect, test } from "bun:test";
import { formatTime, parseTime, TimeParseError } from "../../src/util/time.ts";

const utc = (...parts: [number, number, number, number?, number?, number?]) =>
  Date.UTC(parts[0], parts[1] - 1, parts[2], parts[3] ?? 0, parts[4] ?? 0, parts[5] ?? 0) / 1000;

describe("times on input", () => {
  test("ISO 8601 with an offset or Z", () => {
    expect(parseTime("2024-03-20T14:30:00Z")).toBe(utc(2024, 3, 20, 14, 30));
    expect(parseTime("2024-03-20T14:30:00+02:00")).toBe(utc(2024, 3, 20, 12, 30));
    expect(parseTime("2024-03-20T14:30:00-0530")).toBe(utc(2024, 3, 20, 20, 0));
    expect(parseTime("2024-03-20T14:30:00.250Z")).toBe(utc(2024, 3, 20, 14, 30));
  });
  test("without an offset it is local time", () => {
    const local = new Date(2024, 2, 20, 14, 30, 0).getTime() / 1000;
    expect(parseTime("2024-03-20T14:30:00")).toBe(local);
    expect(parseTime("2024-03-20 14:30")).toBe(local);
    expect(parseTime("2024-03-20 14:30:00")).toBe(local);
    expect(parseTime("2024-03-20")).toBe(new Date(2024, 2, 20).getTime() / 1000);
  });
  test("a bad time is an error that shows accepted examples", () => {
    for (const bad of ["yesterday", "2024-13-01", "2024-02-30", "2024-03-20T25:00", "14:30"]) {
      expect(() => parseTime(bad)).toThrow(TimeParseError);
    }
    expect(() => parseTime("noon")).toThrow('use "2024-03-20T14:30:00", "2024-03-20 14:30"');
  });
  test("offsets run from -14:00 to +14:00; beyond, or with minutes past 59, the time is refused", () => {
    expect(parseTime("2024-03-20T14:30:00+14:00")).toBe(utc(2024, 3, 20, 0, 30));
    expect(parseTime("2024-03-20T14:30:00-12:00")).toBe(utc(2024, 3, 21, 2, 30));
    for (const bad of ["2024-03-20T14:30+25:00", "2024-03-20T14:30:00-14:30", "2024-03-20T14:30:00+0199", "2024-03-20T14:30+99"]) {
      expect(() => parseTime(bad)).toThrow(`'${bad}' has an offset beyond ±14:00`);
    }
  });
});

describe("times on output", () => {
  test("ISO 8601 in local time with the offset, to the second", () => {
    const text = formatTime(utc(2024, 3, 20, 14, 30, 5));
    expect(text).toMatch(/^2024-03-2\dT\d\d:\d\d:05[+-]\d\d:\d\d$/);
    expect(parseTime(text)).toBe(utc(2024, 3, 20, 14, 30, 5));
  });
});
