// `npm run bench`: every benchmark, figures printed for test/bench/README.md.
//   npm run bench -- --days 2             the storage benchmark on less data
//   npm run bench -- --agent-minutes 10   the agent's window at 60 s (default 5, after a 3-minute warm-up)
//   npm run bench -- --only agent,floor   some of sampling, mig, shipping, storage, scrape, agent, report, attribution, memory, floor
// Each benchmark is loaded and run on its own: one that fails says so, and the others still run.
export {};

const option = (name: string) => {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : undefined;
};
const only = option("--only")?.split(",");

const benchmarks: Array<[name: string, run: () => Promise<void>]> = [
  [
    "sampling",
    async () => {
      const { printSampling, samplingBenchmark } = await import("./sampling.ts");
      printSampling(samplingBenchmark());
    },
  ],
  [
    "mig",
    async () => {
      const { migBenchmark, printMig } = await import("./mig.ts");
      printMig(migBenchmark());
    },
  ],
  [
    "shipping",
    async () => {
      const { printShipping, shippingBenchmark } = await import("./shipping.ts");
      printShipping(await shippingBenchmark());
    },
  ],
  [
    "storage",
    async () => {
      const { printStorage, storageBenchmark } = await import("./storage.ts");
      printStorage(await storageBenchmark(Number(option("--days") ?? 30)));
    },
  ],
  [
    "floor",
    async () => {
      const { floorBenchmark, printFloor } = await import("./floor.ts");
      printFloor(await floorBenchmark());
    },
  ],
  [
    "scrape",
    async () => {
      const { printScrape, scrapeBenchmark } = await import("./scrape.ts");
      printScrape(await scrapeBenchmark({ seconds: 60, rate: 10 }));
    },
  ],
  [
    "agent",
    async () => {
      const { benchBinary, measureAgents, printAgent } = await import("./agent.ts");
      const { serviceEnvironment } = await import("../../packaging/serviceEnvironment.ts");
      const minutes = Number(option("--agent-minutes") ?? 5);
      printAgent(
        await measureAgents(benchBinary(), [{ label: "agent", engine: serviceEnvironment("systemd") }], {
          intervalSeconds: 60,
          seconds: minutes * 60,
          warmupSeconds: 180,
        }),
      );
    },
  ],
  [
    "report",
    async () => {
      const { printReport, reportBenchmark } = await import("./report.ts");
      printReport(reportBenchmark());
    },
  ],
  [
    "attribution",
    async () => {
      const { attributionBenchmark, printAttribution } = await import("./attribution.ts");
      printAttribution(await attributionBenchmark());
    },
  ],
  [
    "memory",
    async () => {
      const { agentMemoryBenchmark, printAgentMemory } = await import("./agentMemory.ts");
      printAgentMemory(await agentMemoryBenchmark());
    },
  ],
];

let failed = 0;
for (const [name, run] of benchmarks) {
  if (only && !only.includes(name)) continue;
  try {
    await run();
  } catch (error) {
    failed++;
    console.log(`\n${name} benchmark failed: ${(error as Error).message.split("\n")[0]}`);
  }
}
process.exitCode = failed > 0 ? 1 : 0;
