// The agent's runtime settings: the environment its tuned copy gets, the command
// that restarts it, and, end to end, that the running agent is that copy, with
// the same pid, and an operator's own value kept.

import { describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AGENT_RUNTIME_ENV, selfCommand, tunedEnvironment } from "../../src/platform/runtimeTuning.ts";
import { spawnAgent } from "../helpers/binary.ts";
import { fakeNvmlLibrary, scenarioFile } from "../helpers/fakeNvml.ts";

describe("runtime tuning (pure)", () => {
  test("adds the settings the environment lacks and the marker; an operator's value wins", () => {
    const env = tunedEnvironment({ PATH: "/bin", BUN_JSC_useDFGJIT: "1", EMPTY: undefined });
    expect(env).toEqual({
      PATH: "/bin",
      BUN_JSC_useDFGJIT: "1",
      BUN_GC_TIMER_DISABLE: "1",
      BUN_JSC_useFTLJIT: "0",
      BUN_JSC_useConcurrentJIT: "0",
      BUN_JSC_useWarmUpMarkedBlocks: "0",
      MIMALLOC_PURGE_DELAY: "-1",
      GPU_MONITOR_RUNTIME_TUNED: "1",
    });
    expect(Object.keys(AGENT_RUNTIME_ENV).every((key) => key in env)).toBe(true);
  });

  test("restarts a compiled binary with its arguments; bun running a script is left alone", () => {
    expect(selfCommand("/usr/local/bin/gpu_monitor", ["bun", "/$bunfs/root/gpu_monitor", "run", "-c", "x.json"])).toEqual([
      "/usr/local/bin/gpu_monitor",
      "run",
      "-c",
      "x.json",
    ]);
    expect(selfCommand("/usr/bin/bun", ["/usr/bin/bun", "/src/main.ts", "run"])).toBeNull();
  });
});

describe.if(process.platform === "linux")("the compiled agent", () => {
  const environOf = (pid: number) =>
    Object.fromEntries(
      readFileSync(`/proc/${pid}/environ`, "utf8")
        .split("\0")
        .filter(Boolean)
        .map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]),
    );

  const threadNames = (pid: number) => readdirSync(`/proc/${pid}/task`).map((tid) => readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim());

  // The last field: whether mimalloc's page-purging thread runs (MIMALLOC_PURGE_DELAY=-1 keeps it from starting).
  for (const [label, extra, expected, purgeThread] of [
    ["runs as its tuned copy under the same pid", {}, { BUN_GC_TIMER_DISABLE: "1", BUN_JSC_useDFGJIT: "0", GPU_MONITOR_RUNTIME_TUNED: "1" }, false],
    ["keeps an operator's own setting", { BUN_JSC_useDFGJIT: "1" }, { BUN_GC_TIMER_DISABLE: "1", BUN_JSC_useDFGJIT: "1" }, false],
    ["is left alone with GPU_MONITOR_RUNTIME_TUNING=0", { GPU_MONITOR_RUNTIME_TUNING: "0" }, { BUN_GC_TIMER_DISABLE: undefined, GPU_MONITOR_RUNTIME_TUNED: undefined }, true],
  ] as const) {
    test(label, async () => {
      const dir = mkdtempSync(join(tmpdir(), "gpu-monitor-tuning-"));
      writeFileSync(join(dir, "config.json"), JSON.stringify({ collection: { interval_seconds: 1 }, database: { file: "g.db" }, logging: { file: "" } }));
      const agent = spawnAgent(
        ["run", "-c", join(dir, "config.json")],
        { GPU_MONITOR_NVML_LIBRARY: fakeNvmlLibrary("current"), FAKE_NVML_SCENARIO: scenarioFile("eight_gpus"), ...extra },
        dir,
      );
      expect(await agent.waitFor("NVML ready")).toBe(true);
      const env = environOf(agent.process.pid); // the pid we started is the one running: replaced, not forked
      expect(readFileSync(`/proc/${agent.process.pid}/cmdline`, "utf8").split("\0").slice(1, 4)).toEqual(["run", "-c", join(dir, "config.json")]);
      for (const [key, value] of Object.entries(expected)) expect(env[key]).toBe(value);
      await Bun.sleep(2500); // two more ticks at 1 s: memory freed and, untuned, purged
      expect(threadNames(agent.process.pid).includes("mi-scavenger")).toBe(purgeThread);
      const { exitCode } = await agent.stop();
      expect(exitCode).toBe(0);
    }, 20_000);
  }
});
