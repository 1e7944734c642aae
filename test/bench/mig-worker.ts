// One measurement in a fresh process: CPU time per tick of an H100 in MIG mode
// (the GPU, its three MIG devices enumerated and read, GPM sampled and computed
// for the GPU and each GPU instance) against a GPU without MIG or GPM.
// Usage: bun test/bench/mig-worker.ts <libnvidia-ml> <scenario> <iterations>

import { openNvml } from "../../src/nvml/index.ts";
import { useScenarioInProcess } from "../helpers/fakeNvml.ts";

const [library, scenario, iterationsText] = process.argv.slice(2);
const iterations = Number(iterationsText ?? 50_000);
useScenarioInProcess(scenario!);
const nvml = openNvml({ libraryPath: library! });

/** CPU nanoseconds (user + system, all threads: GC included) per call of `work`. */
function cpuNanosPer(work: () => void, count: number): number {
  for (let i = 0; i < Math.min(count, 20_000); i++) work(); // reach the optimising JIT tiers first
  const before = process.cpuUsage();
  for (let i = 0; i < count; i++) work();
  const used = process.cpuUsage(before);
  return ((used.user + used.system) * 1000) / count;
}

let devices = 0;
let ticks = 0;
const plainNs = cpuNanosPer(() => nvml.readGpu(1), iterations);
const migNs = cpuNanosPer(() => {
  const gpu = nvml.readGpu(0);
  devices = nvml.readMigDevices!(0).length;
  // The first reading has nothing to compare with; every later one computes GPM.
  if (ticks++ > 0 && gpu.gpm === null) throw new Error("GPM gave nothing: the benchmark would not measure its computation");
}, iterations);
nvml.close();
console.log(JSON.stringify({ plainNs, migNs, devices }));
