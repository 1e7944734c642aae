import { describe, expect, test } from "bun:test";
import { redrawFrame, utilizationBar, watchHeader } from "../../../src/cli/format/watch.ts";

describe("utilization bars", () => {
  test("a share of ten cells, rounded, then the figure", () => {
    expect(utilizationBar(0)).toBe("[          ]   0%");
    expect(utilizationBar(37)).toBe("[||||      ]  37%");
    expect(utilizationBar(54)).toBe("[|||||     ]  54%");
    expect(utilizationBar(100)).toBe("[||||||||||] 100%");
    expect(utilizationBar(null)).toBe("[          ]  N/A");
  });
  test("every bar has the same width, whatever the figure", () => {
    const widths = new Set([0, 5, 37, 99.6, 100, null].map((percent) => utilizationBar(percent).length));
    expect(widths).toEqual(new Set([17]));
    expect(utilizationBar(50, 4)).toBe("[||  ]  50%");
  });
  test("a reading past the ends is held to the bar", () => {
    expect(utilizationBar(140)).toBe("[||||||||||] 140%");
    expect(utilizationBar(-3)).toBe("[          ]  -3%");
  });
});

describe("redrawing in place", () => {
  test("the first frame clears the screen; every frame starts at the top-left, clears each line's rest and the screen below", () => {
    expect(redrawFrame("a\nbb\n", true)).toBe("\x1b[2J\x1b[Ha\x1b[K\nbb\x1b[K\n\x1b[J");
    expect(redrawFrame("a\nbb\n", false)).toBe("\x1b[Ha\x1b[K\nbb\x1b[K\n\x1b[J");
  });
  test("a frame with fewer lines than the one before leaves nothing of it", () => {
    const frame = redrawFrame("GPU 0\n", false);
    expect(frame.endsWith("\x1b[J")).toBe(true);
    expect(frame).not.toContain("\x1b[2J"); // no flicker: only the first frame blanks the screen
  });
  test("the header says how often", () => {
    expect(watchHeader(2)).toBe("Every 2 s: gpu_monitor snapshot (Ctrl-C to quit)");
    expect(watchHeader(0.5)).toStartWith("Every 0.5 s:");
  });
});
