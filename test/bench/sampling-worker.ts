// One measurement in a fresh process: CPU time per full sample of every GPU
// through the binding (and through the collector, which adds process names).
// Usage: bun test/bench/sampling-worker.ts <libnvidia-ml> <scenario> <iterations>

import { ProcessNameCache, osProcessNameLookup } from "../../src/collect/processNames.ts";
import { takeSample } from "../../src/collect/sample.ts";
import { openNvml } from "../../src/nvml/index.ts";
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

const names = new ProcessNameCache(osProcessNameLookup(), (pid) => nvml.processName(pid));
const bindingNs = cpuNanosPer(readAll, iterations);
const collectorNs = cpuNanosPer(() => takeSample(nvml, names), Math.floor(iterations / 4));
nvml.close();
console.log(JSON.stringify({ gpus, iterations, bindingNsPerSample: bindingNs, collectorNsPerSample: collectorNs }));
