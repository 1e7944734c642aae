// MIG and GPM benchmark: CPU time per tick of an H100 in MIG mode with three MIG
// devices and GPM (the GPU read, its MIG devices enumerated and read, a GPM
// sample taken and computed for the GPU and each GPU instance) against a plain
// GPU's reading (an A100: no MIG, no GPM) on the same fake library. Median of
// several fresh processes.

import { fakeNvmlLibrary, REPO, scenarioFile } from "../helpers/fakeNvml.ts";

export interface MigFigures {
  rounds: number;
  devices: number;
  plainUs: number;
  migUs: number;
  ratio: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function migBenchmark(options: { rounds?: number; iterations?: number } = {}): MigFigures {
  const rounds = options.rounds ?? 5;
  const iterations = options.iterations ?? 50_000;
  const plain: number[] = [];
  const mig: number[] = [];
  let devices = 0;
  for (let round = 0; round < rounds; round++) {
    const run = Bun.spawnSync(
      [process.execPath, `${REPO}/test/bench/mig-worker.ts`, fakeNvmlLibrary("current"), scenarioFile("h100_mig"), String(iterations)],
      { stdout: "pipe", stderr: "pipe" },
    );
    if (run.exitCode !== 0) throw new Error(`mig-worker failed:\n${run.stderr}`);
    const figures = JSON.parse(run.stdout.toString().trim().split("\n").pop()!);
    plain.push(figures.plainNs);
    mig.push(figures.migNs);
    devices = figures.devices;
  }
  const plainUs = median(plain) / 1000;
  const migUs = median(mig) / 1000;
  return { rounds, devices, plainUs, migUs, ratio: migUs / plainUs };
}

export function printMig(figures: MigFigures): void {
  console.log(`MIG and GPM (median of ${figures.rounds} processes):`);
  console.log(`  a plain GPU's reading:                         ${figures.plainUs.toFixed(2)} µs`);
  console.log(
    `  an H100 in MIG mode with ${figures.devices} MIG devices and GPM: ${figures.migUs.toFixed(2)} µs (${figures.ratio.toFixed(1)}x the plain GPU)`,
  );
}

if (import.meta.main) printMig(migBenchmark());
