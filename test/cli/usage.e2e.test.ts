// The compiled binary given bad or odd command lines and config files: usage
// errors exit 2 with one line that says what was wanted.

import { beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { aggregateClosedWindows } from "../../src/aggregate/aggregator.ts";
import { Store } from "../../src/store/store.ts";
import { compiledBinary, runBinary } from "../helpers/binary.ts";
import { eightGpus, writeTick } from "../helpers/samples.ts";

beforeAll(() => compiledBinary());

/** A folder with a config whose database holds 20 minutes of 8 GPUs and its closed 10-minute windows. */
function withData() {
  const dir = mkdtempSync(join(tmpdir(), "gpu-monitor-usage-"));
  const config = join(dir, "config.json");
  writeFileSync(config, JSON.stringify({ collection: { interval_seconds: 60, aggregation_interval_seconds: 600 }, database: { file: "g.db" }, logging: { file: "" } }));
  const store = Store.open(join(dir, "g.db"));
  const start = 1_767_225_600; // 2026-01-01T00:00:00Z
  for (let t = start; t < start + 1200; t += 60) writeTick(store, t, eightGpus(t));
  aggregateClosedWindows(store, start + 1200, { periodSeconds: 600, intervalSeconds: 60 });
  store.close();
  const cli = (...args: string[]) => runBinary([...args, "-c", config], { TZ: "UTC" }, dir);
  return { dir, config, cli };
}

function expectUsageError(run: { exitCode: number; stdout: string; stderr: string }, message: string) {
  expect(run.stderr).toBe(`gpu_monitor: usage error: ${message}\n`);
  expect(run.stdout).toBe("");
  expect(run.exitCode).toBe(2);
}

describe("usage errors exit 2 and say what was wanted", () => {
  test("export without --from", () => {
    expectUsageError(runBinary(["export"]), `'gpu_monitor export' needs --from: a TIME such as "2024-03-20T14:30"; see 'gpu_monitor export --help'`);
  });

  test("a word a command has no place for", () => {
    expectUsageError(
      runBinary(["snapshot", "extra"]),
      "unexpected argument 'extra' for 'gpu_monitor snapshot', which takes options only; see 'gpu_monitor snapshot --help'",
    );
  });

  test("--from or --resend with an empty value, or none", () => {
    const from = `--from needs a value: a TIME such as "2024-03-20T14:30"; see 'gpu_monitor export --help'`;
    expectUsageError(runBinary(["export", "--from", ""]), from);
    expectUsageError(runBinary(["export", "--from="]), from);
    expectUsageError(runBinary(["export", "--from", "--to", "2024-03-20"]), from);
    const resend = `--resend needs a value: a TIME such as "2024-03-20T14:30" or failed; see 'gpu_monitor send --help'`;
    expectUsageError(runBinary(["send", "--resend", ""]), resend);
    expectUsageError(runBinary(["send", "--resend"]), resend);
    expectUsageError(runBinary(["-ss", ""]), `-ss needs a value: the TIME of a window, such as "2024-03-20T14:00"; see 'gpu_monitor --help'`);
  });

  test("snapshot --output-format points to --format", () => {
    expectUsageError(
      runBinary(["snapshot", "--output-format", "json"]),
      "unknown option --output-format for 'gpu_monitor snapshot' (did you mean --format?); see 'gpu_monitor snapshot --help'",
    );
  });

  test("an offset beyond ±14:00", () => {
    const { cli } = withData();
    const run = cli("-sc", "2026-01-01T00:05+25:00");
    expect(run.stderr).toStartWith("gpu_monitor: usage error: '2026-01-01T00:05+25:00' has an offset beyond ±14:00: use ");
    expect(run.exitCode).toBe(2);
  });

  test("--help says a bare date in -sc means its first minute", () => {
    expect(runBinary(["--help"]).stdout).toContain("raw samples of TIME's minute (a bare date: its first minute)");
  });
});

describe("config errors: the file, the key, the bound; exit 2, no stack trace, nothing raw", () => {
  function withConfig(content: string | Buffer) {
    const dir = mkdtempSync(join(tmpdir(), "gpu-monitor-usage-"));
    writeFileSync(join(dir, "config.json"), content);
    return { file: join(dir, "config.json"), run: runBinary(["status", "-c", join(dir, "config.json")], {}, dir) };
  }

  test("interval_seconds: 1e300 is refused, without a TimeoutOverflowWarning flood", () => {
    const { file, run } = withConfig('{"collection": {"interval_seconds": 1e300}}');
    expect(run.stderr).toBe(
      `gpu_monitor: config error: ${file}: collection.interval_seconds: expected a whole number of seconds of at most 3600 (an hour), found 1e+300\n`,
    );
    expect(run.exitCode).toBe(2);
  });

  test("a window of 0.001 h is an error naming both values", () => {
    const { file, run } = withConfig('{"collection": {"aggregation_interval_hours": 0.001}}');
    expect(run.stderr).toBe(
      `gpu_monitor: config error: ${file}: collection.aggregation_interval_hours (0.001 h = 3.6 s) must be a whole multiple of collection.interval_seconds (60 s)\n`,
    );
    expect(run.exitCode).toBe(2);
  });

  test("a section of the wrong type", () => {
    const { file, run } = withConfig('{"server": "https://x"}');
    expect(run.stderr).toBe(`gpu_monitor: config error: ${file}: server must be an object, found a string\n`);
    expect(run.exitCode).toBe(2);
  });

  test("binary garbage: refused at its first bad byte, and nothing of it printed raw", () => {
    const { file, run } = withConfig(Buffer.from([0x7b, 0x1b, 0x5d, 0x30, 0x3b, 0x07, 0xff, 0x00, 0x7d]));
    expect(run.stderr).toBe(`gpu_monitor: config error: config file ${file} is not valid UTF-8: byte 0xff at offset 6; save it as UTF-8 text\n`);
    expect(run.exitCode).toBe(2);
  });

  test("valid UTF-8 that is not JSON: the error line shows its control characters escaped", () => {
    const { run } = withConfig('{"a\x1b]0;pwned\x07": }');
    expect(run.stderr).toStartWith("gpu_monitor: config error: ");
    expect(run.stderr).not.toContain("\x1b");
    expect(run.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(run.exitCode).toBe(2);
  });
});

describe("CSV over no data still has its header", () => {
  test("export of raw samples and of windows, and -sc of an empty minute, print the header the data would have", () => {
    const { cli } = withData();
    const rawWithData = cli("export", "--from", "2026-01-01T00:00:00Z", "--to", "2026-01-01T00:20:00Z", "--format", "csv");
    const rawEmpty = cli("export", "--from", "2025-01-01T00:00:00Z", "--to", "2025-01-02T00:00:00Z", "--format", "csv");
    expect(rawWithData.stdout.split("\n").length).toBeGreaterThan(100);
    expect(rawEmpty.stdout).toBe(`${rawWithData.stdout.split("\n")[0]}\n`);
    expect(rawEmpty.stderr).toContain("No data: no raw samples from 2025-01-01T00:00:00+00:00");
    const windowsWithData = cli("export", "--level", "hourly", "--from", "2026-01-01T00:00:00Z", "--to", "2026-01-01T00:20:00Z", "--format", "csv");
    const windowsEmpty = cli("export", "--level", "hourly", "--from", "2025-01-01T00:00:00Z", "--to", "2025-01-02T00:00:00Z", "--format", "csv");
    expect(windowsWithData.stdout.split("\n").length).toBe(2 * 8 + 2);
    expect(windowsEmpty.stdout).toBe(`${windowsWithData.stdout.split("\n")[0]}\n`);
    const minuteEmpty = cli("-sc", "2025-06-01T12:00:00Z", "-f", "csv");
    expect(minuteEmpty.stdout).toBe(`${rawWithData.stdout.split("\n")[0]}\n`);
    expect(minuteEmpty.exitCode).toBe(0);
  });
});

describe("--nvml-library", () => {
  test("a file that is not a library is reported by the path given", () => {
    const run = runBinary(["snapshot", "--nvml-library", "/etc/passwd"]);
    expect(run.stderr).toContain('Tried: /etc/passwd (Failed to open library "/etc/passwd": invalid ELF header)');
    expect(run.exitCode).toBe(3);
  });
});
