// The compiled agent's own cost while it samples 8 fake GPUs, run under the systemd
// unit's environment (read from packaging/systemd/gpu-monitor.service): CPU of every
// thread, and memory as what it owns (private: Private_Clean + Private_Dirty + Swap),
// its PSS and its RSS.
//
//   bun test/bench/agent.ts [--minutes N] [--warmup-minutes N] [--interval S] [--binary PATH]
//   bun test/bench/agent.ts --settings [same options]
//
// --minutes (default 5, or GPU_MONITOR_BENCH_MINUTES) is the measured window after the
// warm-up (default 3 minutes); the README says what was run for its figures. --settings
// runs, side by side over the same minutes, the agent under the unit's environment twice
// (the spread between the two is the noise), once without each engine setting the unit
// has, once with each tried setting it lacks, and once with none: what decides which
// settings the service definitions carry.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../../packaging/build.ts";
import { serviceEnvironment } from "../../packaging/serviceEnvironment.ts";
import { fakeNvmlLibrary, REPO, scenarioFile } from "../helpers/fakeNvml.ts";
import { cpuMeter, mb, measureSideBySide, median, type MemoryKb, type ProcessFigures, type SideBySide } from "./processMeter.ts";

/**
 * Every engine setting tried for the agent (all were once set by the agent on itself).
 * The unit carries those that measured lower CPU or private memory; --settings measures
 * the others again.
 */
export const ENGINE_SETTINGS_TRIED: Readonly<Record<string, string>> = {
  BUN_GC_TIMER_DISABLE: "1", // Bun's extra idle-GC timer
  BUN_JSC_useDFGJIT: "0", // the optimising tiers
  BUN_JSC_useFTLJIT: "0",
  BUN_JSC_useConcurrentJIT: "0", // compiler threads
  BUN_JSC_useWarmUpMarkedBlocks: "0", // the heap pre-fault helper thread
  MIMALLOC_PURGE_DELAY: "-1", // mimalloc's scavenger purging after every tick
};

/** The binary built from this checkout (bench builds go to .cache/bench), or the one given. */
export function benchBinary(given?: string): string {
  if (given) return given;
  const binary = join(REPO, ".cache/bench/gpu_monitor");
  compile({ outfile: binary, version: "bench" });
  return binary;
}

/** The unit's environment and the fake NVML with 8 GPUs; nothing else from ours. */
export function agentEnvironment(engine: Record<string, string> = serviceEnvironment("systemd")): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    GPU_MONITOR_NVML_LIBRARY: fakeNvmlLibrary("current"),
    FAKE_NVML_SCENARIO: scenarioFile("eight_gpus"),
    ...engine,
  };
}

export interface StartedAgent {
  pid: number;
  stop(): Promise<void>;
}

/** `gpu_monitor run` in a fresh folder with a database of its own. */
export function startAgent(binary: string, intervalSeconds: number, env: Record<string, string>): StartedAgent {
  const dir = mkdtempSync(join(tmpdir(), "gpu-monitor-agent-bench-"));
  writeFileSync(
    join(dir, "config.json"),
    JSON.stringify({ collection: { interval_seconds: intervalSeconds }, database: { file: "g.db" }, logging: { file: "" } }),
  );
  const agent = Bun.spawn([binary, "run", "-c", join(dir, "config.json")], { cwd: dir, env, stdout: "ignore", stderr: "ignore" });
  return {
    pid: agent.pid,
    async stop() {
      agent.kill("SIGTERM");
      await agent.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs agents side by side (each label with its engine environment) and measures them over the same seconds. */
export async function measureAgents(
  binary: string,
  variants: ReadonlyArray<{ label: string; engine: Record<string, string> }>,
  options: { intervalSeconds: number; seconds: number; warmupSeconds: number },
): Promise<SideBySide> {
  const agents = variants.map((v) => ({ label: v.label, agent: startAgent(binary, options.intervalSeconds, agentEnvironment(v.engine)) }));
  const meters = agents.map((a) => cpuMeter(a.agent.pid));
  try {
    return await measureSideBySide(
      agents.map((a) => ({ label: a.label, pid: a.agent.pid })),
      { ...options, meters },
    );
  } finally {
    await Promise.all(agents.map((a) => a.agent.stop()));
    for (const meter of meters) meter.close();
  }
}

export interface AgentFigures {
  label: string;
  cpuSecondsPerHour: number;
  cpuPercent: number;
  /** Median CPU of a whole tick (at 10 s and more), ms. */
  tickMedianMs: number;
  end: MemoryKb;
  max: MemoryKb;
  /** End minus start of the window, kB. */
  growth: MemoryKb;
}

export function agentFigures(run: SideBySide, process: ProcessFigures): AgentFigures {
  const field = (f: keyof MemoryKb) => Math.max(...process.memory.map((m) => m[f]));
  const start = process.memory[0]!;
  const end = process.memory.at(-1)!;
  return {
    label: process.label,
    cpuSecondsPerHour: (process.cpuSeconds / run.seconds) * 3600,
    cpuPercent: (process.cpuSeconds / run.seconds) * 100,
    tickMedianMs: median(process.tickCpuMs),
    end,
    max: { rss: field("rss"), pss: field("pss"), private: field("private"), privateClean: field("privateClean") },
    growth: {
      rss: end.rss - start.rss,
      pss: end.pss - start.pss,
      private: end.private - start.private,
      privateClean: end.privateClean - start.privateClean,
    },
  };
}

const signed = (kb: number) => `${kb >= 0 ? "+" : ""}${mb(kb)}`;

export function printAgent(run: SideBySide): void {
  const process = run.processes[0]!;
  const figures = agentFigures(run, process);
  const minutes = (run.seconds / 60).toFixed(1);
  console.log(
    `\nAgent (compiled binary, 8 fake GPUs, the systemd unit's environment) at ${run.intervalSeconds} s, ${minutes} min after a ${(run.warmupSeconds / 60).toFixed(1)}-minute warm-up`,
  );
  console.log(
    `  CPU (${process.cpuMethod}, every thread): ${process.cpuSeconds.toFixed(3)} s = ${figures.cpuSecondsPerHour.toFixed(2)} s per hour   (target <= 0.6 s per hour at 60 s)`,
  );
  if (process.tickCpuMs.length > 0) {
    const sorted = [...process.tickCpuMs].sort((a, b) => a - b);
    console.log(
      `    per tick: median ${figures.tickMedianMs.toFixed(1)} ms, ${sorted[0]!.toFixed(1)}-${sorted.at(-1)!.toFixed(1)} ms over ${sorted.length} ticks; ${run.hourBoundaryInside ? "an hour boundary (hourly compaction, window close) was inside" : "no hour boundary inside: the hourly work is not in this figure"}`,
    );
  }
  const { end, max, growth } = figures;
  console.log(
    `  private ${mb(end.private)} MB (max ${mb(max.private)}, ${signed(growth.private)} MB over the window)   (target <= 20 MB, no growth)`,
  );
  console.log(
    `    of which clean pages of the executable (no other process maps it; the kernel drops them at will) ${mb(end.privateClean)} MB, and dirty (heaps, stacks, JIT code) ${mb(end.private - end.privateClean)} MB (${signed(growth.private - growth.privateClean)} MB)`,
  );
  console.log(`  PSS ${mb(end.pss)} MB (max ${mb(max.pss)}, ${signed(growth.pss)} MB)`);
  console.log(`  RSS ${mb(end.rss)} MB (max ${mb(max.rss)}, ${signed(growth.rss)} MB)`);
}

/** The unit's settings, each left out in turn, and each tried one it lacks, added in turn. */
export function settingsVariants(): Array<{ label: string; engine: Record<string, string> }> {
  const unit = serviceEnvironment("systemd");
  const without = (name: string) => Object.fromEntries(Object.entries(unit).filter(([key]) => key !== name));
  return [
    { label: "unit", engine: unit },
    { label: "unit (again)", engine: unit },
    ...Object.keys(unit).map((name) => ({ label: `without ${name}=${unit[name]}`, engine: without(name) })),
    ...Object.entries(ENGINE_SETTINGS_TRIED)
      .filter(([name]) => !(name in unit))
      .map(([name, value]) => ({ label: `with ${name}=${value}`, engine: { ...unit, [name]: value } })),
    { label: "no engine settings", engine: Object.fromEntries(Object.entries(unit).filter(([key]) => !(key in ENGINE_SETTINGS_TRIED))) },
  ];
}

export function printSettings(run: SideBySide): void {
  const figures = run.processes.map((p) => agentFigures(run, p));
  const unit = figures.filter((f) => f.label.startsWith("unit"));
  const unitCpu = median(unit.map((f) => f.cpuSecondsPerHour));
  const unitPrivate = median(unit.map((f) => f.end.private));
  const dirty = (m: MemoryKb) => m.private - m.privateClean;
  const unitDirty = median(unit.map((f) => dirty(f.end)));
  console.log(
    `\nEngine settings, side by side at ${run.intervalSeconds} s for ${(run.seconds / 60).toFixed(1)} min after a ${(run.warmupSeconds / 60).toFixed(1)}-minute warm-up (${run.processes[0]!.cpuMethod}); ${run.hourBoundaryInside ? "an hour boundary inside" : "no hour boundary inside"}`,
  );
  const columns = ["CPU s/h", "vs unit", "tick ms", "private", "vs unit", "dirty", "vs unit", "PSS", "RSS", "growth"];
  console.log(`  ${"variant".padEnd(44)}${columns.map((c) => c.padStart(9)).join("")}`);
  for (const f of figures) {
    const cells = [
      f.cpuSecondsPerHour.toFixed(3),
      `${((f.cpuSecondsPerHour / unitCpu - 1) * 100).toFixed(0)}%`,
      Number.isNaN(f.tickMedianMs) ? "-" : f.tickMedianMs.toFixed(2),
      mb(f.end.private),
      signed(f.end.private - unitPrivate),
      mb(dirty(f.end)),
      signed(dirty(f.end) - unitDirty),
      mb(f.end.pss),
      mb(f.end.rss),
      signed(f.growth.private),
    ];
    console.log(`  ${f.label.padEnd(44)}${cells.map((c) => c.padStart(9)).join("")}`);
  }
  console.log(
    "  (memory in MB at the end; dirty = private less the executable's clean pages; growth: private, end minus start of the window; 'vs unit': against the median of the two unit runs)",
  );
}

if (import.meta.main) {
  const option = (name: string, fallback: number) => {
    const at = process.argv.indexOf(name);
    return at > 0 ? Number(process.argv[at + 1]) : fallback;
  };
  const given = process.argv.indexOf("--binary");
  const binary = benchBinary(given > 0 ? process.argv[given + 1] : undefined);
  const options = {
    intervalSeconds: option("--interval", 60),
    seconds: option("--minutes", Number(process.env.GPU_MONITOR_BENCH_MINUTES ?? 5)) * 60,
    warmupSeconds: option("--warmup-minutes", 3) * 60,
  };
  if (process.argv.includes("--settings")) {
    printSettings(await measureAgents(binary, settingsVariants(), options));
  } else {
    printAgent(await measureAgents(binary, [{ label: "agent", engine: serviceEnvironment("systemd") }], options));
  }
}
