// The ticks the agent keeps while the database cannot take them: bounded, oldest out first, counted.

import { expect, test } from "bun:test";
import { backlogCapacity, TickBacklog } from "../../src/schedule/backlog.ts";

const tick = (ts: number) => ({ ts, gpus: [] });

test("holds an hour of ticks at the interval", () => {
  expect(backlogCapacity(1)).toBeGreaterThanOrEqual(3600);
  expect(backlogCapacity(60)).toBeGreaterThanOrEqual(60);
  expect(backlogCapacity(7)).toBeGreaterThanOrEqual(3600 / 7);
  // An hour, not more: the ticks are held in memory (the tick in flight besides).
  expect(backlogCapacity(1)).toBeLessThanOrEqual(3600 + 2);
  expect(backlogCapacity(60)).toBeLessThanOrEqual(60 + 2);
  expect(backlogCapacity(7)).toBeLessThanOrEqual(3600 / 7 + 2);
});

test("past its capacity the oldest tick goes, and is counted until it empties", () => {
  const backlog = new TickBacklog(3);
  expect([1, 2, 3].map((ts) => backlog.push(tick(ts)))).toEqual([false, false, false]);
  expect(backlog.push(tick(4))).toBe(true);
  expect(backlog.push(tick(5))).toBe(true);
  expect(backlog.pending().map((t) => t.ts)).toEqual([3, 4, 5]);
  expect(backlog.clear()).toBe(2);
  expect(backlog.size).toBe(0);
  backlog.push(tick(6));
  expect(backlog.clear()).toBe(0);
});
