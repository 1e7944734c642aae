// The agent against its floor: the compiled agent (under the systemd unit's
// environment) and test/bench/agent_floor.c (the same NVML calls and the same rows
// stored the same way, nothing else) run side by side at the same interval on the
// fake NVML with 8 GPUs, whose calls cost nothing; CPU per tick of each whole process
// over the same seconds after a warm-up, and the ratio. Beside them, two steps of
// test/bench/bun_floor.ts under the same environment say how much of the difference
// is Bun's before any of the agent's code runs: waking once a tick, and the C floor's
// store through bun:sqlite with the rows from a Worker.
//
//   bun test/bench/floor.ts [--seconds 60] [--warmup-seconds 20] [--interval 1] [--binary PATH]

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fakeNvmlLibrary, REPO, scenarioFile } from "../helpers/fakeNvml.ts";
import { agentEnvironment, benchBinary, startAgent } from "./agent.ts";
import { cpuMeter, mb, measureSideBySide, type SideBySide } from "./processMeter.ts";

const SOURCES = ["test/bench/agent_floor.c", "test/bench/nvml_floor.c"];
export const SQLITE_MISSING =
  "agent floor skipped: SQLite's C library and headers are missing; install libsqlite3-dev (Debian, Ubuntu) or sqlite-devel (Fedora, RHEL)";

/** Compiles agent_floor.c against the system SQLite (once per source version), or says what to install. */
export function agentFloorProgram(): { program: string } | { missing: string } {
  const hash = createHash("sha256");
  for (const source of SOURCES) hash.update(readFileSync(join(REPO, source)));
  const folder = join(REPO, ".cache/programs", `agent_floor-${hash.digest("hex").slice(0, 16)}`);
  const program = join(folder, "agent_floor");
  if (existsSync(program)) return { program };
  if (!Bun.which("cc")) return { missing: "agent floor skipped: no C compiler (cc); install gcc or clang" };
  mkdirSync(folder, { recursive: true });
  const partial = `${program}.${process.pid}.tmp`;
  const result = Bun.spawnSync(["cc", "-std=c11", "-O2", "-o", partial, join(REPO, SOURCES[0]!), "-ldl", "-lsqlite3"], {
    stderr: "pipe",
  });
  if (result.exitCode !== 0) {
    const error = result.stderr.toString();
    if (/sqlite3\.h|-lsqlite3/.test(error)) return { missing: SQLITE_MISSING };
    throw new Error(`compiling test/bench/agent_floor.c failed:\n${error}`);
  }
  renameSync(partial, program);
  return { program };
}

export interface FloorFigures {
  run: SideBySide;
  ticks: number;
  /** CPU per tick, ms, by label: agent, bun store, bun wake, floor. */
  msPerTick: Record<string, number>;
  /** agent / floor */
  ratio: number;
}

export async function floorBenchmark(
  options: { binary?: string; intervalSeconds?: number; seconds?: number; warmupSeconds?: number } = {},
): Promise<FloorFigures | { missing: string }> {
  const floor = agentFloorProgram();
  if ("missing" in floor) return floor;
  const binary = benchBinary(options.binary);
  const intervalSeconds = options.intervalSeconds ?? 1;
  const dir = mkdtempSync(join(tmpdir(), "gpu-monitor-floor-bench-"));
  const floorProcess = Bun.spawn([floor.program, fakeNvmlLibrary("current"), join(dir, "floor.db"), String(intervalSeconds)], {
    env: { FAKE_NVML_SCENARIO: scenarioFile("eight_gpus") },
    stdout: "ignore",
    stderr: "inherit",
  });
  const floorMeter = cpuMeter(floorProcess.pid, "agent-floor-bench");
  const bunFloor = (mode: string) =>
    Bun.spawn([process.execPath, join(REPO, "test/bench/bun_floor.ts"), mode, String(intervalSeconds), join(dir, `bun-${mode}.db`)], {
      env: agentEnvironment(),
      stdout: "ignore",
      stderr: "inherit",
    });
  const bunStore = bunFloor("store");
  const bunWake = bunFloor("wake");
  const agent = startAgent(binary, intervalSeconds, agentEnvironment());
  const watched = [
    { label: "agent", pid: agent.pid },
    { label: "bun store", pid: bunStore.pid },
    { label: "bun wake", pid: bunWake.pid },
    { label: "floor", pid: floorProcess.pid },
  ];
  const meters = [cpuMeter(agent.pid), cpuMeter(bunStore.pid, "bun-floor-bench"), cpuMeter(bunWake.pid, "bun-floor-bench"), floorMeter];
  try {
    const run = await measureSideBySide(watched, {
      intervalSeconds,
      seconds: options.seconds ?? 60,
      // The agent compiles its tick's code over its first ticks: that is not what it costs.
      warmupSeconds: options.warmupSeconds ?? 20,
      meters,
    });
    const ticks = run.seconds / intervalSeconds;
    const msPerTick = Object.fromEntries(run.processes.map((p) => [p.label, (p.cpuSeconds / ticks) * 1000]));
    return { run, ticks, msPerTick, ratio: msPerTick.agent! / msPerTick.floor! };
  } finally {
    for (const child of [floorProcess, bunStore, bunWake]) child.kill("SIGTERM");
    await Promise.all([floorProcess.exited, bunStore.exited, bunWake.exited, agent.stop()]);
    for (const meter of meters) meter.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function printFloor(figures: FloorFigures | { missing: string }): void {
  console.log("\nAgent against its floor (test/bench/agent_floor.c: the same NVML calls, the same rows stored the same way)");
  if ("missing" in figures) {
    console.log(`  ${figures.missing}`);
    return;
  }
  const { run, msPerTick } = figures;
  console.log(
    `  side by side at ${run.intervalSeconds} s, 8 fake GPUs, ${run.seconds.toFixed(0)} s (${figures.ticks.toFixed(0)} ticks) after a ${run.warmupSeconds} s warm-up; CPU from ${run.processes[0]!.cpuMethod}, every thread`,
  );
  const floor = msPerTick.floor!;
  const described: Record<string, string> = {
    agent: "the agent (compiled, the unit's environment)",
    "bun store": "Bun: the floor's store through bun:sqlite, rows from a Worker",
    "bun wake": "Bun: waking once a tick, nothing else",
    floor: "the floor (C: NVML calls, the same rows stored the same way)",
  };
  for (const process of run.processes) {
    const m = process.memory.at(-1)!;
    console.log(
      `  ${described[process.label]!.padEnd(64)} ${msPerTick[process.label]!.toFixed(3)} ms per tick  ${(msPerTick[process.label]! / floor).toFixed(1)}x the floor   private ${mb(m.private)} MB, PSS ${mb(m.pss)} MB, RSS ${mb(m.rss)} MB`,
    );
  }
  console.log(`  agent / floor: ${figures.ratio.toFixed(1)}x   (target <= 2x)`);
}

if (import.meta.main) {
  const option = (name: string) => {
    const at = process.argv.indexOf(name);
    return at > 0 ? Number(process.argv[at + 1]) : undefined;
  };
  const binaryAt = process.argv.indexOf("--binary");
  printFloor(
    await floorBenchmark({
      ...(binaryAt > 0 ? { binary: process.argv[binaryAt + 1]! } : {}),
      ...(option("--interval") ? { intervalSeconds: option("--interval")! } : {}),
      ...(option("--seconds") ? { seconds: option("--seconds")! } : {}),
      ...(option("--warmup-seconds") !== undefined ? { warmupSeconds: option("--warmup-seconds")! } : {}),
    }),
  );
}
