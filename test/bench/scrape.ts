// Scrape benchmark: the compiled agent (8 fake GPUs, the unit's environment, a
// 60 s interval so ticks stay out of the figure) with its metrics endpoint,
// scraped 10 times a second; beside it the floor, a plain Bun.serve returning a
// fixed 20 KB string, scraped the same way. Latency is the client's wall time
// per request (p50, p99); the agent's added CPU is its CPU with scrapes minus
// its CPU over an equal time without, as a share of one core.
// Usage: bun test/bench/scrape.ts [--seconds 60] [--rate 10]

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { agentEnvironment, benchBinary } from "./agent.ts";
import { freePort } from "../helpers/server.ts";
import { cpuMeter } from "./processMeter.ts";

export interface ScrapeSide {
  label: string;
  bytes: number;
  p50Ms: number;
  p99Ms: number;
  /** Share of one core, scraping minus idle. */
  addedCpuPercent: number;
}

function option(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}


function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Scrapes `url` at `rate` per second for `seconds`; latencies in ms, and the page's size. */
async function scrape(url: string, rate: number, seconds: number): Promise<{ latencies: number[]; bytes: number }> {
  const latencies: number[] = [];
  let bytes = 0;
  const end = performance.now() + seconds * 1000;
  for (let next = performance.now(); next < end; next += 1000 / rate) {
    const wait = next - performance.now();
    if (wait > 0) await Bun.sleep(wait);
    const started = performance.now();
    const text = await (await fetch(url)).text();
    latencies.push(performance.now() - started);
    bytes = text.length;
  }
  return { latencies: latencies.sort((a, b) => a - b), bytes };
}

async function measure(label: string, pid: number, url: string, rate: number, seconds: number): Promise<ScrapeSide> {
  const cpu = cpuMeter(pid, `gpu-monitor-scrape-${label.replace(/\W/g, "")}`);
  await scrape(url, rate, 5); // warm-up: JIT, connection
  const idleStart = cpu.read();
  await Bun.sleep(seconds * 1000);
  const idle = cpu.read() - idleStart;
  const busyStart = cpu.read();
  const { latencies, bytes } = await scrape(url, rate, seconds);
  const busy = cpu.read() - busyStart;
  cpu.close();
  return { label, bytes, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), addedCpuPercent: ((busy - idle) / seconds) * 100 };
}

export async function scrapeBenchmark(options: { seconds?: number; rate?: number } = {}): Promise<ScrapeSide[]> {
  const seconds = options.seconds ?? 60;
  const rate = options.rate ?? 10;
  const binary = benchBinary();
  const dir = mkdtempSync(join(tmpdir(), "gpu-monitor-scrape-bench-"));
  const agentPort = await freePort();
  writeFileSync(
    join(dir, "config.json"),
    JSON.stringify({ collection: { interval_seconds: 60 }, database: { file: "g.db" }, logging: { file: "" }, metrics: { listen: `127.0.0.1:${agentPort}` } }),
  );
  const agent = Bun.spawn([binary, "run", "-o", "-c", join(dir, "config.json")], { cwd: dir, env: agentEnvironment(), stdout: "ignore", stderr: "ignore" });
  const floorPort = await freePort();
  const page = `${"# floor\n".repeat(2560)}`; // 20 KB
  const floor = Bun.spawn(
    [process.execPath, "-e", `const page = ${JSON.stringify(page)}; Bun.serve({ hostname: "127.0.0.1", port: ${floorPort}, fetch: () => new Response(page, { headers: { "Content-Type": "text/plain; version=0.0.4" } }) });`],
    { stdout: "ignore", stderr: "ignore" },
  );
  try {
    // The agent's first tick comes at the next whole minute; wait for it so the page holds the GPUs.
    const deadline = Date.now() + 75_000;
    while (!(await fetch(`http://127.0.0.1:${agentPort}/metrics`).then((r) => r.text()).catch(() => "")).includes("DCGM_FI_DEV_GPU_UTIL")) {
      if (Date.now() > deadline) throw new Error("the agent's endpoint showed no GPUs within 75 s");
      await Bun.sleep(500);
    }
    const agentSide = await measure("agent", agent.pid, `http://127.0.0.1:${agentPort}/metrics`, rate, seconds);
    const floorSide = await measure("floor", floor.pid, `http://127.0.0.1:${floorPort}/`, rate, seconds);
    return [agentSide, floorSide];
  } finally {
    agent.kill("SIGTERM");
    floor.kill("SIGTERM");
    await Promise.all([agent.exited, floor.exited]);
    rmSync(dir, { recursive: true, force: true });
  }
}

export function printScrape(sides: readonly ScrapeSide[], rate = 10): void {
  console.log(`\nScrapes: ${rate} a second against the agent's /metrics (8 fake GPUs) and a plain Bun.serve returning 20 KB (the floor)`);
  for (const side of sides) {
    console.log(
      `  ${side.label.padEnd(6)} ${(side.bytes / 1024).toFixed(1).padStart(5)} KB  p50 ${side.p50Ms.toFixed(2)} ms  p99 ${side.p99Ms.toFixed(2)} ms  added CPU ${side.addedCpuPercent.toFixed(2)} % of a core`,
    );
  }
  console.log("  targets: the agent's p99 under 2 ms, its added CPU under 1 % of a core");
}

if (import.meta.main) {
  const rate = Number(option("--rate") ?? 10);
  printScrape(await scrapeBenchmark({ seconds: Number(option("--seconds") ?? 60), rate }), rate);
}
