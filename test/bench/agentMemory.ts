// The compiled agent's memory over 3,000 ticks of 8 fake GPUs at a 1 s interval,
// run on an accelerated clock (GPU_MONITOR_TEST_CLOCK_RATE: the same loop, the same
// work per tick, hours of ticks in minutes), under the systemd unit's environment.
// What it owns after tick 100 against the end says whether anything grows per tick.
//
//   bun test/bench/agentMemory.ts [--ticks 3000] [--rate 20] [--binary PATH] [--every 100]

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serviceEnvironment } from "../../packaging/serviceEnvironment.ts";
import { agentEnvironment, benchBinary } from "./agent.ts";
import { mb } from "./processMeter.ts";

export interface PrivateMemoryKb {
  /** Private_Clean + Private_Dirty + Swap: what the process owns. */
  private: number;
  /** Anonymous pages (heaps, stacks, JIT code). */
  anonymous: number;
  /** Private_Dirty + Swap: what the kernel cannot drop. */
  dirty: number;
  rss: number;
}

function privateMemory(pid: number): PrivateMemoryKb {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(rollup)?.[1] ?? 0);
  return {
    private: kb("Private_Clean") + kb("Private_Dirty") + kb("Swap"),
    anonymous: kb("Anonymous"),
    dirty: kb("Private_Dirty") + kb("Swap"),
    rss: kb("Rss"),
  };
}

export interface AgentMemoryRun {
  ticks: number;
  rate: number;
  /** [tick, memory] every `every` ticks from tick 100 to the end. */
  readings: Array<[number, PrivateMemoryKb]>;
  /** GPU-samples the agent stored: every tick's, or fewer when it fell behind the accelerated clock. */
  stored: number;
}

export async function agentMemoryBenchmark(options: { ticks?: number; rate?: number; every?: number; binary?: string } = {}): Promise<AgentMemoryRun> {
  const ticks = options.ticks ?? 3000;
  const rate = options.rate ?? 20;
  const every = options.every ?? 100;
  const binary = benchBinary(options.binary);
  const dir = mkdtempSync(join(tmpdir(), "gpu-monitor-memory-bench-"));
  writeFileSync(join(dir, "config.json"), JSON.stringify({ collection: { interval_seconds: 1 }, database: { file: "g.db" }, logging: { file: "" } }));
  // The clock starts 1,450 s before an hour: spans close (and are compacted) at ticks 250, 850, ...
  // and the hour's window closes at tick 1450, so every run holds the same work.
  const clockStart = Math.ceil(Date.now() / 3_600_000) * 3600 - 1450;
  const env = {
    ...agentEnvironment(serviceEnvironment("systemd")),
    GPU_MONITOR_TEST_CLOCK_RATE: String(rate),
    GPU_MONITOR_TEST_CLOCK_START: String(clockStart),
  };
  const agent = Bun.spawn([binary, "run", "-c", join(dir, "config.json")], { cwd: dir, env, stdout: "ignore", stderr: "pipe" });
  const startedAt = Date.now(); // the agent's clock starts within milliseconds of this
  const tickAt = (tick: number) => startedAt + (tick * 1000) / rate;
  const readings: Array<[number, PrivateMemoryKb]> = [];
  try {
    for (let tick = 100; tick <= ticks; tick += every) {
      await Bun.sleep(Math.max(0, tickAt(tick) + 500 / rate - Date.now())); // half a tick after it
      if (agent.exitCode !== null) throw new Error(`the agent exited (${agent.exitCode}): ${await new Response(agent.stderr).text()}`);
      readings.push([tick, privateMemory(agent.pid)]);
    }
  } finally {
    agent.kill("SIGTERM");
    await agent.exited;
  }
  const stored = storedSamples(join(dir, "g.db"));
  rmSync(dir, { recursive: true, force: true });
  return { ticks, rate, readings, stored };
}

function storedSamples(file: string): number {
  const { Database } = require("bun:sqlite") as typeof import("bun:sqlite");
  const db = new Database(file, { readonly: true });
  try {
    const rows = (db.query("SELECT count(*) AS n FROM samples").get() as { n: number }).n;
    const blocks = (db.query("SELECT coalesce(sum(sample_count), 0) AS n FROM sample_blocks").get() as { n: number }).n;
    return rows + blocks;
  } finally {
    db.close();
  }
}

export function printAgentMemory(run: AgentMemoryRun): void {
  const [firstTick, first] = run.readings[0]!;
  const [lastTick, last] = run.readings.at(-1)!;
  const growth = (field: keyof PrivateMemoryKb) => `${last[field] - first[field] >= 0 ? "+" : ""}${mb(last[field] - first[field])}`;
  console.log(
    `\nAgent memory (compiled, 8 fake GPUs, unit's environment) over ${run.ticks} ticks at 1 s, clock ${run.rate}x; ${run.stored} GPU-samples stored of ${8 * run.ticks} ticked`,
  );
  console.log(`  tick ${String(firstTick).padStart(5)}: private ${mb(first.private)} MB, anonymous ${mb(first.anonymous)} MB, dirty ${mb(first.dirty)} MB, RSS ${mb(first.rss)} MB`);
  console.log(`  tick ${String(lastTick).padStart(5)}: private ${mb(last.private)} MB, anonymous ${mb(last.anonymous)} MB, dirty ${mb(last.dirty)} MB, RSS ${mb(last.rss)} MB`);
  console.log(
    `  growth after tick ${firstTick}: private ${growth("private")} MB, anonymous ${growth("anonymous")} MB, dirty ${growth("dirty")} MB   (target <= 1 MB)`,
  );
  const peak = Math.max(...run.readings.map(([, m]) => m.private));
  console.log(`  peak private ${mb(peak)} MB; private every ${run.readings[1]?.[0]! - firstTick || 0} ticks: ${run.readings.map(([, m]) => mb(m.private)).join(" ")}`);
}

if (import.meta.main) {
  const option = (name: string) => {
    const at = process.argv.indexOf(name);
    return at > 0 ? process.argv[at + 1] : undefined;
  };
  const number = (name: string) => (option(name) === undefined ? undefined : Number(option(name)));
  printAgentMemory(
    await agentMemoryBenchmark({
      ...(number("--ticks") !== undefined ? { ticks: number("--ticks")! } : {}),
      ...(number("--rate") !== undefined ? { rate: number("--rate")! } : {}),
      ...(number("--every") !== undefined ? { every: number("--every")! } : {}),
      ...(option("--binary") ? { binary: option("--binary")! } : {}),
    }),
  );
}
