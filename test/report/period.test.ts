// Which period a report covers by default, and the file it is written to.

import { afterAll, describe, expect, test } from "bun:test";
import { defaultPeriod, defaultReportFile, firstStored, monthStart, periodFileLabel } from "../../src/report/period.ts";

// Local time is Berlin's for every figure worked out here (set before any is).
const savedTz = process.env.TZ;
process.env.TZ = "Europe/Berlin";
afterAll(() => {
  if (savedTz === undefined) delete process.env.TZ;
  else process.env.TZ = savedTz;
});

const local = (y: number, m: number, d: number, h = 0, mi = 0) => new Date(y, m - 1, d, h, mi).getTime() / 1000;

describe("the default period", () => {
  test("is the last full calendar month in local time", () => {
    const now = local(2026, 12, 6, 20, 30);
    expect(defaultPeriod(now, local(2026, 9, 1))).toEqual({ from: local(2026, 11, 1), to: local(2026, 12, 1) });
    // Berlin's November starts at 23:00 UTC on 31 October.
    expect(new Date(local(2026, 11, 1) * 1000).toISOString()).toBe("2026-10-31T23:00:00.000Z");
  });

  test("crosses the year in January, and spans a month with a DST change", () => {
    expect(defaultPeriod(local(2027, 1, 2), local(2026, 1, 1))).toEqual({ from: local(2026, 12, 1), to: local(2027, 1, 1) });
    const october = defaultPeriod(local(2026, 11, 15), 0);
    expect(october).toEqual({ from: local(2026, 10, 1), to: local(2026, 11, 1) });
    expect((october.to - october.from) / 3600).toBe(31 * 24 + 1);
  });

  test("is the month so far when nothing was stored before this month", () => {
    const now = local(2026, 12, 6, 20, 30);
    expect(defaultPeriod(now, local(2026, 12, 2, 9))).toEqual({ from: local(2026, 12, 1), to: now });
  });

  test("is the month so far when only raw samples were stored (no hour closed yet); the earlier of window and sample counts", () => {
    const now = local(2026, 12, 6, 20, 30);
    expect(defaultPeriod(now, firstStored(null, local(2026, 12, 6, 20, 10)))).toEqual({ from: local(2026, 12, 1), to: now });
    expect(firstStored(local(2026, 12, 2), local(2026, 11, 20))).toBe(local(2026, 11, 20));
    expect(firstStored(local(2026, 11, 2), local(2026, 12, 6))).toBe(local(2026, 11, 2));
    expect(firstStored(null, null)).toBeNull();
    expect(defaultPeriod(now, firstStored(local(2026, 12, 2), local(2026, 11, 20)))).toEqual({ from: local(2026, 11, 1), to: local(2026, 12, 1) });
  });

  test("is last month when the database is empty (the page then says there is nothing)", () => {
    const now = local(2026, 12, 6, 20, 30);
    expect(defaultPeriod(now, null)).toEqual({ from: local(2026, 11, 1), to: local(2026, 12, 1) });
  });

  test("monthStart counts back whole months", () => {
    expect(monthStart(local(2026, 3, 31, 12), 1)).toBe(local(2026, 2, 1));
    expect(monthStart(local(2026, 3, 31, 12), 3)).toBe(local(2025, 12, 1));
  });
});

describe("the default file name", () => {
  test("names the host and the period's local dates, the end exclusive as --to is", () => {
    const period = { from: local(2026, 11, 1), to: local(2026, 12, 1) };
    expect(defaultReportFile("gpu-node-07", period, "html")).toBe("gpu_monitor-report-gpu-node-07-2026-11-01-2026-12-01.html");
    expect(defaultReportFile("gpu-node-07", period, "json")).toBe("gpu_monitor-report-gpu-node-07-2026-11-01-2026-12-01.json");
  });

  test("adds the time where an end is not midnight", () => {
    expect(periodFileLabel({ from: local(2026, 12, 1), to: local(2026, 12, 6, 14, 30) })).toBe("2026-12-01-2026-12-06T1430");
  });

  test("keeps only characters safe in a file name from the host", () => {
    expect(defaultReportFile("a/b c:d", { from: local(2026, 11, 1), to: local(2026, 12, 1) }, "html")).toBe(
      "gpu_monitor-report-a_b_c_d-2026-11-01-2026-12-01.html",
    );
  });
});
