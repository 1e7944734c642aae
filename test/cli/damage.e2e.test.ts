// A real database file with a page of raw samples in the middle overwritten: the
// agent and the query commands name the file, say it was not changed and what to do.

import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Store } from "../../src/store/store.ts";
import { runBinary } from "../helpers/binary.ts";
import { fakeNvmlLibrary, scenarioFile } from "../helpers/fakeNvml.ts";
import { eightGpus, writeTick } from "../helpers/samples.ts";

const env = () => ({ GPU_MONITOR_NVML_LIBRARY: fakeNvmlLibrary("current"), FAKE_NVML_SCENARIO: scenarioFile("h100") });

describe("a damaged page in the middle of the file", () => {
  /** A database with 40 minutes of raw samples of 8 GPUs, then a page of them in the middle of the file overwritten. */
  function damagedDatabase() {
    const dir = mkdtempSync(join(tmpdir(), "gpu-monitor-damaged-"));
    const file = join(dir, "gpu_metrics.db");
    const store = Store.open(file);
    for (let tick = 0; tick < 2400; tick++) writeTick(store, 1_800_000_000 + tick, eightGpus(tick));
    store.close(); // checkpoints: every page is in the file itself
    const check = new Database(file, { readonly: true });
    const middle = (check.query("SELECT count(*) / 2 AS page FROM dbstat WHERE name = 'samples' AND pagetype = 'leaf'").get() as { page: number }).page;
    const page = (check.query("SELECT pageno FROM dbstat WHERE name = 'samples' AND pagetype = 'leaf' LIMIT 1 OFFSET ?").get(middle) as { pageno: number }).pageno;
    check.close();
    const fd = openSync(file, "r+");
    writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, (page - 1) * 4096);
    closeSync(fd);
    writeFileSync(join(dir, "config.json"), JSON.stringify({ database: { file: "gpu_metrics.db" }, logging: { file: "" } }));
    return { dir, file, config: join(dir, "config.json"), bytes: readFileSync(file) };
  }

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
