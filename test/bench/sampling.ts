// Sampling benchmark: CPU time per full sample of 8 GPUs through the bun:ffi
// binding, against test/bench/nvml_floor.c making the same NVML calls on the
// same fake library (the floor). Each side runs in several fresh processes,
// interleaved, and the median is reported, since JIT tiering and a shared
// machine make single runs noisy.

import { compileProgram, fakeNvmlLibrary, REPO, scenarioFile } from "../helpers/fakeNvml.ts";

export interface SamplingFigures {
  gpus: number;
  rounds: number;
  floorNsPerSample: number;
  bindingNsPerSample: number;
  collectorNsPerSample: number;
  ratio: number;
  bindingUsPerGpuSample: number;
  /** The driver's history a tick adds (buffers and events), at a 1 s and a 60 s interval. */
  historyNsPerTickAt1s: number;
  historyNsPerTickAt60s: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function runJson(command: string[], env: Record<string, string>): Record<string, number> {
  const result = Bun.spawnSync(command, { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`${command.join(" ")} failed:\n${result.stderr}`);
  return JSON.parse(result.stdout.toString().trim().split("\n").pop()!);
}

export function samplingBenchmark(options: { rounds?: number; iterations?: number } = {}): SamplingFigures {
  const rounds = options.rounds ?? 5;
  const iterations = options.iterations ?? 100_000;
  const library = fakeNvmlLibrary("current");
  const floor = compileProgram("test/bench/nvml_floor.c", "nvml_floor");
  const scenario = scenarioFile("eight_gpus");
  const floorRuns: number[] = [];
  const bindingRuns: number[] = [];
  const collectorRuns: number[] = [];
  const historyAt1s: number[] = [];
  const historyAt60s: number[] = [];
  let gpus = 0;
  for (let round = 0; round < rounds; round++) {
    const c = runJson([floor, library, String(iterations * 10)], { FAKE_NVML_SCENARIO: scenario });
    floorRuns.push(c.ns_per_sample!);
    const bun = runJson([process.execPath, `${REPO}/test/bench/sampling-worker.ts`, library, scenario, String(iterations)], {});
    bindingRuns.push(bun.bindingNsPerSample!);
    collectorRuns.push(bun.collectorNsPerSample!);
    historyAt1s.push(bun.historyNsPerTickAt1s!);
    historyAt60s.push(bun.historyNsPerTickAt60s!);
    gpus = bun.gpus!;
  }
  const floorNs = median(floorRuns);
  const bindingNs = median(bindingRuns);
  return {
    gpus,
    rounds,
    floorNsPerSample: floorNs,
    bindingNsPerSample: bindingNs,
    collectorNsPerSample: median(collectorRuns),
    ratio: bindingNs / floorNs,
    bindingUsPerGpuSample: bindingNs / gpus / 1000,
    historyNsPerTickAt1s: median(historyAt1s),
    historyNsPerTickAt60s: median(historyAt60s),
  };
}

export function printSampling(figures: SamplingFigures): void {
  const us = (ns: number) => `${(ns / 1000).toFixed(2)} µs`;
  console.log(`\nSampling: CPU time per full sample of ${figures.gpus} GPUs (median of ${figures.rounds} fresh processes)`);
  console.log(`  C floor (same NVML calls, same fake library)  ${us(figures.floorNsPerSample)}`);
  console.log(`  bun:ffi binding                               ${us(figures.bindingNsPerSample)}   ratio ${figures.ratio.toFixed(1)}x  (target <= 10x)`);
  console.log(`  per GPU-sample through the binding            ${us(figures.bindingNsPerSample / figures.gpus)}   (target < 100 µs)`);
  console.log(`  collector (binding + process names + record)  ${us(figures.collectorNsPerSample)}`);
  const versus = (ns: number) => `${(ns / figures.collectorNsPerSample).toFixed(2)}x the collector (target < 2x)`;
  console.log(`  driver history a tick adds, at 1 s            ${us(figures.historyNsPerTickAt1s)}   ${versus(figures.historyNsPerTickAt1s)}`);
  console.log(`  driver history a tick adds, at 60 s           ${us(figures.historyNsPerTickAt60s)}   ${versus(figures.historyNsPerTickAt60s)}`);
}

if (import.meta.main) printSampling(samplingBenchmark());
