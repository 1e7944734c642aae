// Relative times (now, today, yesterday, -2h, "1 hour ago") wherever the compiled
// binary takes a TIME: -sc, -ss, export --from/--to, send --resend.

import { beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { aggregateClosedWindows } from "../../src/aggregate/aggregator.ts";
import { Store } from "../../src/store/store.ts";
import { compiledBinary, runBinary } from "../helpers/binary.ts";
import { eightGpus, writeTick } from "../helpers/samples.ts";

beforeAll(() => compiledBinary());

const HOUR = 3600;
/** The last three hours of 8 GPUs, a sample a minute, in hour windows (closed ones aggregated). */
function recentData() {
  const dir = mkdtempSync(join(tmpdir(), "gpu-monitor-time-"));
  const config = join(dir, "config.json");
  writeFileSync(config, JSON.stringify({ database: { file: "g.db" }, logging: { file: "" } }), { mode: 0o600 });
  const now = Math.floor(Date.now() / 1000);
  const last = now - (now % 60);
  const store = Store.open(join(dir, "g.db"));
  for (let t = last - 3 * HOUR; t <= last; t += 60) writeTick(store, t, eightGpus(t));
  aggregateClosedWindows(store, now, { periodSeconds: HOUR, intervalSeconds: 60 });
  store.close();
  const cli = (...args: string[]) => runBinary([...args, "-c", config], { TZ: "UTC" }, dir);
  return { cli, last };
}

const sampleTimes = (csv: string) => new Set(csv.trimEnd().split("\n").slice(1).map((line) => line.split(",")[0]));

describe("relative times", () => {
  const data = recentData();

  test("export --from -2h --to now: the last two hours of samples", () => {
    const run = data.cli("export", "--from", "-2h", "--to", "now", "-f", "csv");
    expect(run.exitCode).toBe(0);
    // 120 minutes back from now holds 120 or 121 sample times (now may sit on a minute).
    expect(sampleTimes(run.stdout).size).toBeGreaterThanOrEqual(120);
    expect(sampleTimes(run.stdout).size).toBeLessThanOrEqual(121);
    const spelled = data.cli("export", "--from", "2 hours ago", "-f", "csv");
    expect(sampleTimes(spelled.stdout).size).toBe(sampleTimes(run.stdout).size);
    const equals = data.cli("export", "--from=-90m", "-f", "csv");
    expect(sampleTimes(equals.stdout).size).toBeGreaterThanOrEqual(90);
    expect(sampleTimes(equals.stdout).size).toBeLessThanOrEqual(91);
  });

  test("-sc -90m: the raw samples of the minute 90 minutes ago", () => {
    const run = data.cli("-sc", "-90m", "-f", "csv");
    expect(run.exitCode).toBe(0);
    expect(run.stdout.trimEnd().split("\n")).toHaveLength(1 + 8);
  });

  test("-ss -2h finds the window holding that time; send --resend takes one too", () => {
    const ss = data.cli("-ss", "-2h");
    expect(ss.exitCode).toBe(0);
    expect(ss.stdout).toStartWith("Send Attempt Details:\nAggregation Time: ");
    const resend = data.cli("send", "--resend", "1 hour ago");
    expect(resend.stdout).toMatch(/^requeued 1 window\(s\) \(/);
  });

  test("a time no form accepts: exit 2, with the absolute and the relative examples", () => {
    for (const args of [["export", "--from", "2 fortnights ago"], ["-sc", "tomorrow"], ["-ss", "-2x"], ["send", "--resend", "soon"]]) {
      const run = data.cli(...args);
      expect(run.exitCode).toBe(2);
      expect(run.stderr).toContain('is not a time: use "2024-03-20T14:30:00", "2024-03-20 14:30"');
      expect(run.stderr).toContain('or relative: now, today, yesterday, -90m, -2h, -7d, "1 hour ago"');
    }
  });
});
