// One measurement in a fresh process: CPU time per full sample of every GPU
// through the binding (and through the collector, which adds process names).
// Usage: bun test/bench/sampling-worker.ts <libnvidia-ml> <scenario> <iterations>

import { IntervalAverager } from "../../src/collect/driverSamples.ts";
import { ProcessNameCache, osProcessNameLookup } from "../../src/collect/processNames.ts";
import { takeSample } from "../../src/collect/sample.ts";
import { openNvml, type SampleKind } from "../../src/nvml/index.ts";
import { useScenarioInProcess } from "../helpers/fakeNvml.ts";

const [library, scenario, iterationsText] = process.argv.slice(2);
const iterations = Number(iterationsText ?? 100_000);
useScenarioInProcess(scenario!);
const nvml = openNvml({ libraryPath: library! });
const gpus = nvml.deviceCount();

function readAll(): void {
  for (let index = 0; index < gpus; index++) nvml.readGpu(index);
}

/** CPU nanoseconds (user + system, all threads: GC included) per call of `work`. */
function cpuNanosPer(work: () => void, count: number): number {
  for (let i = 0; i < Math.min(count, 50_000); i++) work(); // reach the optimising JIT tiers first
  const before = process.cpuUsage();
  for (let i = 0; i < count; i++) work();
  const used = process.cpuUsage(before);
  return ((used.user + used.system) * 1000) / count;
}

const KINDS: readonly SampleKind[] = ["gpu_utilization", "memory_utilization", "power"];

/**
 * What a tick adds for the driver's history: every GPU's three buffers read from
 * `spanUs` ago (the fake keeps a sample per 100 ms) and averaged, and the event
 * set polled, as the session does between and at ticks.
 */
function readHistory(spanUs: number): void {
  const afterUs = Date.now() * 1000 - spanUs;
  for (let index = 0; index < gpus; index++) {
    for (const kind of KINDS) {
      const averager = new IntervalAverager(100_000, afterUs);
      const samples = nvml.readSamples!(index, kind, afterUs);
      if (samples) averager.add(samples);
      averager.take();
    }
  }
  nvml.takeEvents!();
}

const names = new ProcessNameCache(osProcessNameLookup(), (pid) => nvml.processName(pid));
const bindingNs = cpuNanosPer(readAll, iterations);
const collectorNs = cpuNanosPer(() => takeSample(nvml, names), Math.floor(iterations / 4));
for (let index = 0; index < gpus; index++) for (const kind of KINDS) nvml.sampleBufferLength!(index, kind);
nvml.watchEvents!();
// At 1 s a tick reads 1 s of each buffer (10 samples); at 60 s the Worker reads every 8 s (80 samples), 7.5 times a tick.
const historyNsAt1s = cpuNanosPer(() => readHistory(1_000_000), Math.floor(iterations / 10));
const historyNsPerPoll = cpuNanosPer(() => readHistory(8_000_000), Math.floor(iterations / 20));
nvml.close();
console.log(
  JSON.stringify({
    gpus,
    iterations,
    bindingNsPerSample: bindingNs,
    collectorNsPerSample: collectorNs,
    historyNsPerTickAt1s: historyNsAt1s,
    historyNsPerTickAt60s: historyNsPerPoll * 7.5,
  }),
);
