import { describe, expect, test } from "bun:test";
import { parseLegacyArgs } from "../../src/cli/legacy.ts";

describe("-sc takes an optional TIME", () => {
  test("a relative time such as -90m is its value, not another flag", () => {
    expect(parseLegacyArgs(["-sc", "-90m"]).showCollection).toBe("-90m");
    expect(parseLegacyArgs(["-sc", "-2h", "-f", "csv"])).toMatchObject({ showCollection: "-2h", outputFormat: "csv" });
  });
  test("a flag after -sc is still a flag: the current window", () => {
    expect(parseLegacyArgs(["-sc", "-f", "csv"])).toMatchObject({ showCollection: "", outputFormat: "csv" });
    expect(parseLegacyArgs(["-sc"]).showCollection).toBe("");
  });
});
