// A real database file with a page of raw samples in the middle overwritten: the
// agent and the query commands name the file, say it was not changed and what to do.

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { runBinary } from "../helpers/binary.ts";
import { damagedDatabase } from "../helpers/damage.ts";
import { fakeNvmlLibrary, scenarioFile } from "../helpers/fakeNvml.ts";

const env = () => ({ GPU_MONITOR_NVML_LIBRARY: fakeNvmlLibrary("current"), FAKE_NVML_SCENARIO: scenarioFile("h100") });

describe("a damaged page in the middle of the file", () => {
  const named = (stderr: string, file: string) => {
    expect(stderr).toContain(`database ${file} is corrupt or not a gpu_monitor database`);
    expect(stderr).toContain(`move it aside (mv '${file}' '${file}.corrupt')`);
    expect(stderr).toContain("it was not changed");
  };

  test("-ls, export and status say it is damaged, with what to do, and exit 1", () => {
    const { dir, file, config, bytes } = damagedDatabase();
    for (const args of [["-ls"], ["export", "--from", "2020-01-01"], ["status"]]) {
      const run = runBinary(["-c", config, ...args], env(), dir);
      expect({ args, exitCode: run.exitCode }).toEqual({ args, exitCode: 1 });
      named(run.stderr, file);
    }
    expect(readFileSync(file).equals(bytes)).toBe(true);
  });

  test("the agent refuses it at start with the same message, and leaves it as it was", () => {
    const { dir, file, config, bytes } = damagedDatabase();
    const run = runBinary(["run", "-c", config], env(), dir);
    expect(run.exitCode).toBe(1);
    named(run.stderr, file);
    expect(run.stderr).not.toContain("agent: started");
    expect(readFileSync(file).equals(bytes)).toBe(true);
  });
});
