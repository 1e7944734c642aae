// Releasing the start-up code pages: which mappings qualify (only pages the file
// holds unchanged), when it happens, and, end to end, that the compiled agent's
// RSS drops and it goes on sampling.

import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CodePageRelease, releasableRanges, releaseCodePages } from "../../src/platform/memoryTrim.ts";
import { spawnAgent } from "../helpers/binary.ts";
import { fakeNvmlLibrary, scenarioFile } from "../helpers/fakeNvml.ts";
import { storedSamples } from "../helpers/samples.ts";

const EXE = "/usr/local/bin/gpu_monitor";

const mapping = (range: string, perms: string, path: string, kb: { rss: number; anonymous?: number; swap?: number; privateDirty?: number }) =>
  `${range} ${perms} 00000000 103:01 1234                      ${path}
Size:               1024 kB
Rss:                 ${kb.rss} kB
Pss:                 ${kb.rss} kB
Private_Clean:       ${kb.rss} kB
Private_Dirty:       ${kb.privateDirty ?? 0} kB
Anonymous:           ${kb.anonymous ?? 0} kB
Swap:                ${kb.swap ?? 0} kB
VmFlags: rd ex mr mw me
`;

describe("releasableRanges", () => {
  test("only the executable's resident, read-only, private mappings without a page of their own", () => {
    const smaps = [
      mapping("400000-1400000", "r-xp", EXE, { rss: 30_000 }), // code: yes
      mapping("1400000-1500000", "r--p", EXE, { rss: 400, anonymous: 12, privateDirty: 12 }), // relocated (copied) pages: never
      mapping("1500000-1600000", "r--p", EXE, { rss: 400, swap: 8 }), // relocated pages swapped out: never
      mapping("1600000-1700000", "r--p", EXE, { rss: 400, privateDirty: 400 }), // dirty in the page cache (just installed): the file's own
      mapping("1700000-1800000", "rw-p", EXE, { rss: 200, anonymous: 200 }), // writable data: never
      mapping("1800000-1900000", "r--p", EXE, { rss: 0 }), // nothing resident: skipped
      mapping("7f0000000000-7f0000100000", "r-xp", "/usr/lib/x86_64-linux-gnu/libc.so.6", { rss: 800 }), // another file: never
      mapping("7f0000200000-7f0000300000", "r--s", EXE, { rss: 32 }), // shared: never
      mapping("7f0000300000-7f0000400000", "r-xp", "[vdso]", { rss: 8 }), // not a file
      mapping("7f0000400000-7f0000500000", "rwxp", "", { rss: 5000, anonymous: 5000 }), // the JIT's memory
      `1900000-1a00000 r-xp 00000000 103:01 99 ${EXE}\nRss: 10 kB\nAnonymous: 0 kB\n`, // no Swap line: cannot tell, never
    ].join("");
    expect(releasableRanges(smaps, EXE)).toEqual([
      { start: 0x400000, end: 0x1400000, path: EXE },
      { start: 0x1600000, end: 0x1700000, path: EXE },
    ]);
  });

  test.if(process.platform === "linux")("this process's own mappings parse, and its executable's code qualifies", () => {
    const executable = readlinkSync("/proc/self/exe");
    const ranges = releasableRanges(readFileSync("/proc/self/smaps", "utf8"), executable);
    expect(ranges.length).toBeGreaterThan(0);
    for (const range of ranges) {
      expect(range.path).toBe(executable);
      expect(range.end).toBeGreaterThan(range.start);
    }
  });
});

describe("CodePageRelease", () => {
  test("after the second tick, then once an hour; a failure stops it for good", () => {
    const calls: number[] = [];
    const logs: string[] = [];
    let fail = false;
    const release = new CodePageRelease(
      () => {
        calls.push(0);
        return fail ? "libc not loaded" : { ranges: 3, rssBeforeKb: 55_000, rssAfterKb: 22_000 };
      },
      (message) => logs.push(message),
    );
    release.afterTick(1000);
    expect(calls).toHaveLength(0);
    for (let t = 1; t < 3; t++) release.afterTick(1000 + t * 60);
    expect(calls).toHaveLength(1); // at the second tick
    expect(logs[0]).toBe("released the clean code pages of 3 mapping(s) of the executable: RSS 53.7 -> 21.5 MB");
    release.afterTick(1060 + 3599);
    expect(calls).toHaveLength(1);
    release.afterTick(1060 + 3600);
    expect(calls).toHaveLength(2);
    fail = true;
    release.afterTick(1060 + 7200);
    expect(logs.at(-1)).toBe("code pages not released: libc not loaded");
    release.afterTick(1060 + 99_999);
    expect(calls).toHaveLength(3);
  });

  test("a release that throws is logged and not tried again; the tick goes on", () => {
    const logs: string[] = [];
    let calls = 0;
    const release = new CodePageRelease(
      () => {
        calls++;
        throw new Error("ENOENT: no such file or directory, open '/proc/self/smaps'");
      },
      (message) => logs.push(message),
      1,
    );
    expect(() => release.afterTick(0)).not.toThrow();
    release.afterTick(7200);
    expect(calls).toBe(1);
    expect(logs).toEqual(["code pages not released: ENOENT: no such file or directory, open '/proc/self/smaps'"]);
  });

  test.if(process.platform === "linux")("releasing this process's pages lowers its RSS (the tests after it run on in the same process)", () => {
    const result = releaseCodePages();
    if (typeof result === "string") throw new Error(result);
    expect(result.ranges).toBeGreaterThan(0);
    expect(result.rssAfterKb).toBeLessThan(result.rssBeforeKb);
  });
});

describe.if(process.platform === "linux")("the compiled agent", () => {
  test("releases its start-up code pages after two ticks and goes on storing every tick", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gpu-monitor-release-"));
    writeFileSync(join(dir, "config.json"), JSON.stringify({ collection: { interval_seconds: 1 }, database: { file: "g.db" }, logging: { file: "" } }));
    const agent = spawnAgent(
      ["run", "-v", "-c", join(dir, "config.json")],
      { GPU_MONITOR_NVML_LIBRARY: fakeNvmlLibrary("current"), FAKE_NVML_SCENARIO: scenarioFile("eight_gpus") },
      dir,
    );
    expect(await agent.waitFor("released the clean code pages")).toBe(true);
    const line = /RSS ([\d.]+) -> ([\d.]+) MB/.exec(agent.log())!;
    expect(Number(line[2])).toBeLessThan(Number(line[1]) - 5); // start-up alone touches far more than 5 MB of code
    const stored = () => new Set(storedSamples(join(dir, "g.db")).map((sample) => sample.ts)).size;
    const before = stored();
    await Bun.sleep(3500);
    expect(stored()).toBeGreaterThanOrEqual(before + 2); // ticks go on after the release
    const { exitCode } = await agent.stop();
    expect(exitCode).toBe(0);
  }, 30_000);
});
