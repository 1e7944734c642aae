// The scheduler's time arithmetic: the next tick, and when a boundary check is due again.

import { describe, expect, test } from "bun:test";
import { nextTickMs } from "../../src/schedule/clock.ts";

describe("nextTickMs", () => {
  test("the next multiple strictly after now", () => {
    expect(nextTickMs(59_999, 60_000)).toBe(60_000);
    expect(nextTickMs(60_000, 60_000)).toBe(120_000);
  });
});
