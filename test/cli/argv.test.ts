import { describe, expect, test } from "bun:test";
import { rejectUnknownFlags, rewriteLegacyFlags } from "../../src/cli/argv.ts";
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
  test("suggestions only for near misses", () => {
    expect(closest("formta", ["format", "verbose"])).toBe("format");
    expect(closest("zzzzzz", ["format", "verbose"])).toBeUndefined();
  });
});
