import { describe, expect, test } from "bun:test";
import { doctorJson, doctorText } from "../../../src/cli/format/doctor.ts";
import type { Check } from "../../../src/doctor/checks.ts";

const checks: Check[] = [
  { name: "config", status: "pass", detail: "/etc/gpu_monitor/config.json is valid" },
  { name: "gpu 1", status: "fail", detail: "GPU 1: the GPU has fallen off the bus" },
  { name: "agent", status: "warn", detail: "not running" },
];

describe("doctor output", () => {
  test("JSON for scripts: healthy, and every check with name, status and detail, in order", () => {
    expect(JSON.parse(doctorJson(checks))).toEqual({ healthy: false, checks });
    expect(JSON.parse(doctorJson(checks.filter((check) => check.status !== "fail"))).healthy).toBe(true);
    expect(Object.keys(JSON.parse(doctorJson(checks)))).toEqual(["healthy", "checks"]);
  });
  test("text: the mark, the name padded to the longest, the detail escaped", () => {
    expect(doctorText([...checks, { name: "log", status: "pass", detail: "a\x1b[2Jb" }])).toBe(
      "PASS  config  /etc/gpu_monitor/config.json is valid\nFAIL  gpu 1   GPU 1: the GPU has fallen off the bus\nWARN  agent   not running\nPASS  log     a\\x1b[2Jb\n",
    );
  });
});
