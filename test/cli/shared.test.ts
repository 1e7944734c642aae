// The --from/--to range every ranged command (export, usage, report) reads through timeRange.

import { expect, test } from "bun:test";
import { UsageError } from "../../src/cli/errors.ts";
import { timeRange } from "../../src/cli/shared.ts";

const NOW = 1_780_000_000.5;

test("--from alone runs to the default end; --to given wins over it", () => {
  expect(timeRange("-1h", undefined, NOW, 42 + NOW)).toEqual({ from: Math.floor(NOW) - 3600, to: 42 + NOW });
  expect(timeRange("2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z", NOW, 0)).toEqual({ from: Date.UTC(2026, 10, 1) / 1000, to: Date.UTC(2026, 10, 2) / 1000 });
});

test("a range that ends at or before its start is a usage error naming both ends", () => {
  for (const [from, to] of [["-1h", "-2h"], ["-1h", "-1h"]] as const) {
    let error: unknown;
    try {
      timeRange(from, to, NOW, NOW);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(/^--to \(\S+\) must be after --from \(\S+\)$/);
  }
  expect(() => timeRange("-1h", undefined, NOW, Math.floor(NOW) - 3600)).toThrow(UsageError);
});
