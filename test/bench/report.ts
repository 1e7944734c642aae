// Report benchmark: a 31-day month of hourly windows for 8 GPUs (744 × 8 = 5,952
// GPU windows, from 5-minute samples through the agent's aggregator), written as
// a page by the compiled binary, as a user runs it. Also the in-process split:
// reading the store, building the figures, rendering the HTML.
// Usage: bun test/bench/report.ts

import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gatherReport } from "../../src/report/gather.ts";
import { renderReportHtml } from "../../src/report/html.ts";
import { Store } from "../../src/store/store.ts";
import { compiledBinary } from "../helpers/binary.ts";
import { writeMonth } from "../helpers/reportMonth.ts";

export interface ReportFigures {
  gpuWindows: number;
  binarySecondsMedian: number;
  binarySecondsMax: number;
  runs: number;
  fileBytes: number;
  gatherMs: number;
  renderMs: number;
  /** The same month asked for as --from 1970-01-02 --to 2027-01-01: the page draws the data's days only. */
  longSeconds: number;
  longFileBytes: number;
}

const FROM = Date.UTC(2026, 11, 1) / 1000;
const TO = Date.UTC(2027, 0, 1) / 1000;

export function reportBenchmark(runs = 7): ReportFigures {
  const binary = compiledBinary();
  const dir = mkdtempSync(join(tmpdir(), "gpu-monitor-report-bench-"));
  try {
    process.env.TZ = "UTC";
    writeMonth(join(dir, "gpu_metrics.db"), { from: FROM, to: TO, gpus: 8, ledger: { retried: [FROM + 3600 * 100], failed: [FROM + 3600 * 200] } });
    const config = join(dir, "config.json");
    writeFileSync(config, JSON.stringify({ database: { file: "gpu_metrics.db" }, logging: { file: "" } }));
    const out = join(dir, "report.html");
    const seconds: number[] = [];
    for (let i = 0; i < runs; i++) {
      const started = performance.now();
      const run = Bun.spawnSync([binary, "report", "-c", config, "--from", "2026-12-01", "--to", "2027-01-01", "--out", out], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", TZ: "UTC" },
      });
      seconds.push((performance.now() - started) / 1000);
      if (run.exitCode !== 0) throw new Error(`report exited ${run.exitCode}: ${run.stderr.toString()}`);
    }
    seconds.sort((a, b) => a - b);
    const monthBytes = statSync(out).size;
    const longStarted = performance.now();
    const long = Bun.spawnSync([binary, "report", "-c", config, "--from", "1970-01-02", "--to", "2027-01-01", "--out", out], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", TZ: "UTC" },
    });
    const longSeconds = (performance.now() - longStarted) / 1000;
    if (long.exitCode !== 0) throw new Error(`report exited ${long.exitCode}: ${long.stderr.toString()}`);

    const store = Store.open(join(dir, "gpu_metrics.db"), { readonly: true });
    let gpuWindows = 0;
    let gatherMs = Infinity;
    let renderMs = Infinity;
    try {
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        const data = gatherReport(store, { from: FROM, to: TO }, {
          host: "bench",
          agentVersion: "bench",
          generatedAt: TO,
          uploadsConfigured: true,
          aggregation: { periodSeconds: 3600, intervalSeconds: 300 },
        });
        const t1 = performance.now();
        renderReportHtml(data);
        const t2 = performance.now();
        gatherMs = Math.min(gatherMs, t1 - t0);
        renderMs = Math.min(renderMs, t2 - t1);
        gpuWindows = data.devices.reduce((n, device) => n + device.hours.length, 0);
      }
    } finally {
      store.close();
    }
    return {
      gpuWindows,
      binarySecondsMedian: seconds[Math.floor(seconds.length / 2)]!,
      binarySecondsMax: seconds.at(-1)!,
      runs,
      fileBytes: monthBytes,
      gatherMs,
      renderMs,
      longSeconds,
      longFileBytes: statSync(out).size,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function printReport(figures: ReportFigures): void {
  console.log(`\nReport: a month of hourly windows for 8 GPUs (${figures.gpuWindows} GPU windows)`);
  console.log(`  compiled binary, wall time: median ${figures.binarySecondsMedian.toFixed(3)} s, max ${figures.binarySecondsMax.toFixed(3)} s over ${figures.runs} runs (target ≤ 1 s)`);
  console.log(`  file: ${(figures.fileBytes / 1024 / 1024).toFixed(2)} MiB (${figures.fileBytes} bytes; target ≤ 1.5 MB)`);
  console.log(`  in process, best of ${figures.runs}: read + figures ${figures.gatherMs.toFixed(1)} ms, HTML ${figures.renderMs.toFixed(1)} ms`);
  console.log(`  the same month asked for from 1970-01-02: ${figures.longSeconds.toFixed(3)} s, ${figures.longFileBytes} bytes (one run)`);
}

if (import.meta.main) printReport(reportBenchmark());
