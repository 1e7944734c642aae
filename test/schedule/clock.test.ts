// The scheduler's time arithmetic: the next tick, and when a boundary check is due again.

import { describe, expect, test } from "bun:test";
import { BoundaryCheck, nextTickMs } from "../../src/schedule/clock.ts";

describe("nextTickMs", () => {
  test("the next multiple strictly after now", () => {
    expect(nextTickMs(59_999, 60_000)).toBe(60_000);
    expect(nextTickMs(60_000, 60_000)).toBe(120_000);
  });
});

describe("BoundaryCheck", () => {
  test("runs first, then not again until the next boundary once settled", () => {
    const check = new BoundaryCheck(600);
    expect(check.due(1_000)).toBe(true);
    check.settled(1_000);
    expect([1_060, 1_140, 1_199].map((now) => check.due(now))).toEqual([false, false, false]);
    expect(check.due(1_200)).toBe(true); // the span [600, 1200) has closed
    check.settled(1_200);
    expect(check.due(1_260)).toBe(false);
    expect(check.due(1_800)).toBe(true);
  });

  test("unsettled (work done or a failure) runs again on the next call", () => {
    const check = new BoundaryCheck(3_600);
    expect(check.due(7_200)).toBe(true);
    check.unsettled();
    expect(check.due(7_260)).toBe(true);
    check.settled(7_260);
    expect(check.due(7_320)).toBe(false);
  });

  test("a clock that went back makes it due at once, and it settles from the new time", () => {
    const check = new BoundaryCheck(600);
    check.due(10_000);
    check.settled(10_000); // next at 10_200
    expect(check.due(5_000)).toBe(true); // stepped back an hour and more
    check.settled(5_000);
    expect(check.due(5_060)).toBe(false);
    expect(check.due(5_400)).toBe(true);
  });

  test("a clock that jumped ahead (suspend, a paused VM) is due", () => {
    const check = new BoundaryCheck(3_600);
    check.due(3_700);
    check.settled(3_700);
    expect(check.due(90_000)).toBe(true);
  });
});
