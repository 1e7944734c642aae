import { describe, expect, test } from "bun:test";
import { fillOptionalValues, rejectUnknownFlags, rewriteLegacyFlags } from "../../src/cli/argv.ts";
import { closest } from "../../src/util/closest.ts";
import { UsageError } from "../../src/cli/errors.ts";

describe("legacy flags", () => {
  test("-ls, -ss and -sc become their long forms", () => {
    expect(rewriteLegacyFlags(["-ls"])).toEqual(["--list-sends"]);
    expect(rewriteLegacyFlags(["-ss", "2024-03-20T13:00:00"])).toEqual(["--search-send", "2024-03-20T13:00:00"]);
    expect(rewriteLegacyFlags(["-sc", "", "-f", "csv"])).toEqual(["--show-collection", "", "-f", "csv"]);
    expect(rewriteLegacyFlags(["-sc=2024-03-20T13:00"])).toEqual(["--show-collection=2024-03-20T13:00"]);
  });
  test("values and tokens after -- are left alone", () => {
    expect(rewriteLegacyFlags(["-c", "-ls", "--", "-sc"])).toEqual(["-c", "--list-sends", "--", "-sc"]);
  });
});

describe("unknown flags", () => {
  const args = { format: { type: "string", alias: "f" }, verbose: { type: "boolean" } } as const;
  test("known long, alias, --no- and --flag=value forms pass", () => {
    expect(() => rejectUnknownFlags(["--format", "json", "-f=csv", "--no-verbose", "--help"], args, "x")).not.toThrow();
  });
  test("an unknown flag is a usage error with a suggestion", () => {
    expect(() => rejectUnknownFlags(["--fromat", "json"], args, "gpu_monitor snapshot")).toThrow(
      new UsageError("unknown option --fromat for 'gpu_monitor snapshot' (did you mean --format?); see 'gpu_monitor snapshot --help'"),
    );
  });
  test("negative numbers are values, not flags", () => {
    expect(() => rejectUnknownFlags(["-5"], args, "x")).not.toThrow();
  });
  test("a flag of which the command's flag is one word suggests it: --output-format → --format", () => {
    expect(() => rejectUnknownFlags(["--output-format", "json"], args, "gpu_monitor snapshot")).toThrow(
      new UsageError("unknown option --output-format for 'gpu_monitor snapshot' (did you mean --format?); see 'gpu_monitor snapshot --help'"),
    );
  });
  test("a word the command has no place for is a usage error", () => {
    expect(() => rejectUnknownFlags(["extra"], args, "gpu_monitor snapshot")).toThrow(
      new UsageError("unexpected argument 'extra' for 'gpu_monitor snapshot', which takes options only; see 'gpu_monitor snapshot --help'"),
    );
    expect(() => rejectUnknownFlags(["--format", "json", "--verbose", "extra"], args, "x")).toThrow("unexpected argument 'extra'");
    expect(() => rejectUnknownFlags(["extra"], { ...args, file: { type: "positional" } }, "x")).not.toThrow();
  });
  test("a flag without its value (absent, empty, or the next flag) says what the value may be", () => {
    const send = { resend: { type: "string", valueHint: "TIME|failed" }, config: { type: "string", alias: "c" } } as const;
    const message = "--resend needs a value: a TIME such as \"2024-03-20T14:30\" or failed; see 'gpu_monitor send --help'";
    expect(() => rejectUnknownFlags(["--resend"], send, "gpu_monitor send")).toThrow(new UsageError(message));
    expect(() => rejectUnknownFlags(["--resend="], send, "gpu_monitor send")).toThrow(new UsageError(message));
    expect(() => rejectUnknownFlags(["--resend", ""], send, "gpu_monitor send")).toThrow(new UsageError(message));
    expect(() => rejectUnknownFlags(["--resend", "-c", "x.json"], send, "gpu_monitor send")).toThrow(new UsageError(message));
    expect(() => rejectUnknownFlags(["--resend", "failed", "-c", "x.json"], send, "gpu_monitor send")).not.toThrow();
  });
  test("a required flag left out is a usage error naming it", () => {
    const exportArgs = { from: { type: "string", valueHint: "TIME", required: true } } as const;
    expect(() => rejectUnknownFlags([], exportArgs, "gpu_monitor export")).toThrow(
      new UsageError("'gpu_monitor export' needs --from: a TIME such as \"2024-03-20T14:30\"; see 'gpu_monitor export --help'"),
    );
  });
  test("suggestions only for near misses", () => {
    expect(closest("formta", ["format", "verbose"])).toBe("format");
    expect(closest("zzzzzz", ["format", "verbose"])).toBeUndefined();
  });
});

describe("flags whose value may be left out", () => {
  const defaults = { watch: "2" };
  test("--watch last or before another flag takes its default", () => {
    expect(fillOptionalValues(["--watch"], defaults)).toEqual(["--watch", "2"]);
    expect(fillOptionalValues(["--watch", "-f", "json"], defaults)).toEqual(["--watch", "2", "-f", "json"]);
    expect(fillOptionalValues(["-f", "json", "--watch", "--config", "x"], defaults)).toEqual(["-f", "json", "--watch", "2", "--config", "x"]);
  });
  test("a value given is kept, as a word or after =", () => {
    expect(fillOptionalValues(["--watch", "5"], defaults)).toEqual(["--watch", "5"]);
    expect(fillOptionalValues(["--watch=0.5"], defaults)).toEqual(["--watch=0.5"]);
    expect(fillOptionalValues(["--watch", "-1"], defaults)).toEqual(["--watch", "-1"]); // a number, refused later with its reason
  });
  test("other flags and what follows -- are left alone", () => {
    expect(fillOptionalValues(["--format"], defaults)).toEqual(["--format"]);
    expect(fillOptionalValues(["--", "--watch"], defaults)).toEqual(["--", "--watch"]);
  });
});
