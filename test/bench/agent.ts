// The compiled agent's own cost: RSS and CPU while it samples 8 fake GPUs.
// Usage: bun test/bench/agent.ts [--minutes 10] [--default-minutes 10] [--fast-seconds 60]

import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../../packaging/build.ts";
import { fakeNvmlLibrary, REPO, scenarioFile } from "../helpers/fakeNvml.ts";

const CLOCK_TICKS = 100; // USER_HZ on Linux
// Start-up is done after about four ticks at 60 s: the first ticks compile the tick's code (the last few
// functions by the sixth, a millisecond or two), the code pages start-up touched are released after the
// second, and the third and fourth fault back in the part a tick uses.
const SLOW_WARMUP_SECONDS = 300;

function readProc(pid: number): { rssKb: number; cpuSeconds: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS; // utime + stime
  return { rssKb, cpuSeconds };
}

/**
 * The agent's CPU time in ns, every thread included (those that started and ended between
 * two readings too): a cgroup v1 cpuacct group of its own where one can be made (root on
 * Linux), else /proc/<pid>/stat, whose 10 ms ticks are coarse against 0.1 s in 10 minutes.
 */
function cpuMeter(pid: number): { read(): number; method: string; close(): void } {
  const group = `/sys/fs/cgroup/cpuacct/gpu-monitor-bench-${pid}`;
  try {
    mkdirSync(group);
    writeFileSync(join(group, "cgroup.procs"), String(pid));
    return {
      method: "cpuacct cgroup",
      read: () => Number(readFileSync(join(group, "cpuacct.usage"), "utf8")) / 1e9,
      close: () => {
        try {
          rmdirSync(group);
        } catch {
          // still has the exiting process in it for a moment; an empty group costs nothing
        }
      },
    };
  } catch {
    return { method: "/proc/<pid>/stat", read: () => readProc(pid).cpuSeconds, close: () => {} };
  }
}

export interface AgentRun {
  intervalSeconds: number;
  seconds: number;
  rssStartMb: number;
  rssSteadyMb: number;
  rssMaxMb: number;
  rssGrowthMb: number;
  /** At the end, from smaps_rollup: the executable's and libraries' clean file pages, and private memory. */
  fileBackedMb: number;
  privateMb: number;
  cpuSeconds: number;
  cpuSecondsPerHour: number;
  cpuPercent: number;
  cpuMethod: string;
  /** At intervals of 10 s and more: the CPU of each tick (the half interval either side of it), in ms. */
  tickCpuMs: number[];
  /** Whether the window held an hour boundary: at 60 s, the hourly compaction and window close ran inside it. */
  hourBoundaryInside: boolean;
}

export async function measureAgent(
  binary: string,
  intervalSeconds: number,
  seconds: number,
  extraEnv: Record<string, string> = {},
  warmupSeconds = 5,
): Promise<AgentRun> {
  const dir = mkdtempSync(join(tmpdir(), "gpu-monitor-agent-bench-"));
  writeFileSync(
    join(dir, "config.json"),
    JSON.stringify({ collection: { interval_seconds: intervalSeconds }, database: { file: "g.db" }, logging: { file: "" } }),
  );
  const agent = Bun.spawn([binary, "run", "-c", join(dir, "config.json")], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      GPU_MONITOR_NVML_LIBRARY: fakeNvmlLibrary("current"),
      FAKE_NVML_SCENARIO: scenarioFile("eight_gpus"),
      ...extraEnv,
    },
    stdout: "ignore",
    stderr: "ignore",
  });
  const cpu = cpuMeter(agent.pid);
  try {
    // Start-up (load, database, the first ticks compiling their code) is not what an agent costs over months.
    await Bun.sleep(warmupSeconds * 1000);
    const first = readProc(agent.pid);
    const startedAt = Date.now();
    const cpuFirst = cpu.read();
    const rss: number[] = [];
    // CPU read every second and put to the tick it belongs to (ticks fall on wall-clock multiples of the interval).
    const perTick = new Map<number, number>();
    let cpuLast = cpuFirst;
    const until = startedAt + seconds * 1000;
    for (let second = 1; Date.now() < until; second++) {
      await Bun.sleep(Math.min(1000, Math.max(0, until - Date.now())));
      const cpuNow = cpu.read();
      const tick = Math.round(Date.now() / 1000 / intervalSeconds);
      perTick.set(tick, (perTick.get(tick) ?? 0) + (cpuNow - cpuLast));
      cpuLast = cpuNow;
      if (second % 5 === 0) rss.push(readProc(agent.pid).rssKb);
    }
    const cpuSeconds = cpu.read() - cpuFirst;
    // Only ticks wholly inside the window: the first and last buckets hold part of one.
    const tickCpuMs = intervalSeconds >= 10 ? [...perTick.values()].slice(1, -1).map((s) => s * 1000) : [];
    const hourBoundaryInside = Math.floor(startedAt / 3_600_000) !== Math.floor(Date.now() / 3_600_000);
    const rollup = readFileSync(`/proc/${agent.pid}/smaps_rollup`, "utf8");
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(rollup)?.[1] ?? 0);
    const steady = rss.slice(Math.floor(rss.length / 2)).sort((a, b) => a - b);
    return {
      intervalSeconds,
      seconds,
      rssStartMb: first.rssKb / 1024,
      rssSteadyMb: steady[Math.floor(steady.length / 2)]! / 1024,
      rssMaxMb: Math.max(...rss) / 1024,
      rssGrowthMb: (rss.at(-1)! - rss[Math.floor(rss.length / 2)]!) / 1024,
      fileBackedMb: (kb("Shared_Clean") + kb("Private_Clean")) / 1024,
      privateMb: kb("Private_Dirty") / 1024,
      cpuSeconds,
      cpuSecondsPerHour: (cpuSeconds / seconds) * 3600,
      cpuPercent: (cpuSeconds / seconds) * 100,
      cpuMethod: cpu.method,
      tickCpuMs,
      hourBoundaryInside,
    };
  } finally {
    agent.kill("SIGTERM");
    await agent.exited;
    cpu.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function printAgent(label: string, slow: AgentRun, fast: AgentRun): void {
  console.log(`\nAgent (compiled binary, 8 fake GPUs), ${label}`);
  console.log(`  at ${slow.intervalSeconds} s for ${Math.round(slow.seconds / 60)} min: RSS ${slow.rssStartMb.toFixed(1)} MB after start, ${slow.rssSteadyMb.toFixed(1)} MB steady, ${slow.rssMaxMb.toFixed(1)} MB max, ${slow.rssGrowthMb >= 0 ? "+" : ""}${slow.rssGrowthMb.toFixed(1)} MB over the second half   (target <= 40 MB, no growth)`);
  console.log(`    of which clean file pages (mostly the executable's code) ${slow.fileBackedMb.toFixed(1)} MB, private ${slow.privateMb.toFixed(1)} MB`);
  console.log(`  CPU (${slow.cpuMethod}) ${slow.cpuSeconds.toFixed(3)} s in ${Math.round(slow.seconds / 60)} min after a ${SLOW_WARMUP_SECONDS / 60}-minute warm-up = ${slow.cpuSecondsPerHour.toFixed(2)} s per hour   (target <= 0.5 s)`);
  if (slow.tickCpuMs.length > 0) {
    const sorted = [...slow.tickCpuMs].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    const spikes = slow.tickCpuMs.filter((ms) => ms > 2 * median);
    console.log(
      `    per tick: median ${median.toFixed(1)} ms, range ${sorted[0]!.toFixed(1)}-${sorted.at(-1)!.toFixed(1)} ms over ${sorted.length} ticks; ${spikes.length > 0 ? `${spikes.length} over twice the median (${spikes.map((ms) => ms.toFixed(1)).join(", ")} ms)` : "none over twice the median"}; ${slow.hourBoundaryInside ? "an hour boundary (hourly compaction and window close) was inside" : "no hour boundary inside: the hourly work is not in this figure"}`,
    );
  }
  console.log(`  at ${fast.intervalSeconds} s for ${fast.seconds} s: ${fast.cpuPercent.toFixed(2)} % of one core, RSS ${fast.rssSteadyMb.toFixed(1)} MB steady`);
}

if (import.meta.main) {
  const option = (name: string, fallback: number) => {
    const at = process.argv.indexOf(name);
    return at > 0 ? Number(process.argv[at + 1]) : fallback;
  };
  const binary = join(REPO, ".cache/bench/gpu_monitor");
  compile({ outfile: binary, version: "bench" });
  // The agent as shipped, then with Bun's defaults (GPU_MONITOR_RUNTIME_TUNING=0): one at a time, as on a
  // host. Side by side, both woke at the same second every minute and each tick ran against the other's
  // (same disk, same caches): identical agents measured that way differed by a third.
  const untuned = { GPU_MONITOR_RUNTIME_TUNING: "0" };
  const minutes = option("--minutes", 10);
  const fastSeconds = option("--fast-seconds", 60);
  const slow = await measureAgent(binary, 60, minutes * 60, {}, SLOW_WARMUP_SECONDS);
  const fast = await measureAgent(binary, 1, fastSeconds);
  const slowDefault = await measureAgent(binary, 60, option("--default-minutes", minutes) * 60, untuned, SLOW_WARMUP_SECONDS);
  const fastDefault = await measureAgent(binary, 1, fastSeconds, untuned);
  printAgent("as shipped (its runtime settings, start-up code pages released)", slow, fast);
  printAgent("with Bun's defaults (GPU_MONITOR_RUNTIME_TUNING=0)", slowDefault, fastDefault);
  console.log(
    `\n  shipped / defaults: RSS ${(slow.rssSteadyMb / slowDefault.rssSteadyMb).toFixed(2)}x, CPU at 60 s ${(slow.cpuSecondsPerHour / slowDefault.cpuSecondsPerHour).toFixed(2)}x, at 1 s ${(fast.cpuPercent / fastDefault.cpuPercent).toFixed(2)}x`,
  );
}
