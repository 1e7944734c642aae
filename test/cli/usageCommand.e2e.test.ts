// `gpu_monitor usage` on the compiled binary: GPU-hours to the second from the
// stored windows, matching what `export --level hourly` holds.

import { beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { aggregateClosedWindows } from "../../src/aggregate/aggregator.ts";
import { Store } from "../../src/store/store.ts";
import { compiledBinary, runBinary } from "../helpers/binary.ts";
import { gpuSample, writeTick } from "../helpers/samples.ts";

beforeAll(() => compiledBinary());

const START = 1_767_225_600; // 2026-01-01T00:00:00Z

/** Two GPUs over two hours of 60 s ticks: the first busy half of every minute, the second only for the first 30 minutes. */
function withTwoGpus() {
  const dir = mkdtempSync(join(tmpdir(), "gpu-monitor-usage-cmd-"));
  const config = join(dir, "config.json");
  writeFileSync(config, JSON.stringify({ collection: { interval_seconds: 60, aggregation_interval_seconds: 3600 }, database: { file: "g.db" }, logging: { file: "" } }));
  const store = Store.open(join(dir, "g.db"));
  for (let t = START, tick = 0; t < START + 7200; t += 60, tick++) {
    const gpus = [
      gpuSample({ index: 0, uuid: "GPU-11111111-0000-0000-0000-000000000000", busyMilliseconds: 30_000, gpuUtilizationPercent: 50, energyMillijoules: 1_000_000 + tick * 18_000_000, memoryUsedBytes: 2 ** 30 + tick }),
    ];
    if (t < START + 1800) {
      gpus.push(gpuSample({ index: 1, uuid: "GPU-22222222-0000-0000-0000-000000000000", busyMilliseconds: 60_000, gpuUtilizationPercent: 100, energyMillijoules: 5_000 + tick * 36_000_000, memoryUsedBytes: 2 ** 31 }));
    }
    writeTick(store, t, gpus);
  }
  aggregateClosedWindows(store, START + 7200, { periodSeconds: 3600, intervalSeconds: 60 });
  store.close();
  const cli = (...args: string[]) => runBinary([...args, "-c", config], { TZ: "UTC" }, dir);
  return { cli };
}

describe("gpu_monitor usage", () => {
  const { cli } = withTwoGpus();

  test("--by gpu gives each GPU's seconds present and busy, to the second", () => {
    const run = cli("usage", "--from", "2026-01-01T00:00", "--to", "2026-01-01T02:00", "-f", "json");
    expect(run.stderr).toBe("");
    expect(run.exitCode).toBe(0);
    const document = JSON.parse(run.stdout);
    expect(document.rows.map((row: any) => [row.gpu, row.gpu_seconds, row.busy_seconds, row.windows])).toEqual([
      ["GPU-11111111-0000-0000-0000-000000000000", 7200, 3600, 2],
      ["GPU-22222222-0000-0000-0000-000000000000", 1800, 1800, 2],
    ]);
    expect(document.total.gpu_seconds).toBe(9000);
    expect(document.rows[0].utilization_avg).toBe(50);
    expect(document.rows[1].memory_peak_bytes).toBe(2 ** 31);
  });

  test("energy and busy time equal the sums of the hourly windows that export gives", () => {
    const usage = JSON.parse(cli("usage", "--from", "2026-01-01T00:00", "--to", "2026-01-01T02:00", "-f", "json").stdout);
    const exported = cli("export", "--from", "2026-01-01T00:00", "--to", "2026-01-01T02:00", "--level", "hourly");
    expect(exported.exitCode).toBe(0);
    const records = (JSON.parse(exported.stdout) as any[]).flatMap((group) => group.gpus as any[]);
    for (const row of usage.rows) {
      const mine = records.filter((record) => record.uid === row.gpu);
      expect(mine).toHaveLength(2);
      const energyMillijoules = mine.reduce((sum, record) => sum + record.energy_consumption, 0);
      expect(energyMillijoules).toBeGreaterThan(0);
      expect(row.energy_kwh).toBeCloseTo(energyMillijoules / 3.6e9, 6);
      expect(row.busy_seconds).toBe(mine.reduce((sum, record) => sum + record.busy_seconds, 0));
    }
  });

  test("the table and CSV carry the same figures; a bad --by exits 2", () => {
    const table = cli("usage", "--from", "2026-01-01T00:00", "--to", "2026-01-01T02:00");
    expect(table.exitCode).toBe(0);
    expect(table.stdout).toMatch(/GPU-11111111…\s+NVIDIA H100 80G…\s+2\.00\s+1\.00\s/);
    expect(table.stdout).toMatch(/\ntotal\s+2\.50\s+1\.50\s/);
    const csv = cli("usage", "--from", "2026-01-01T00:00", "--to", "2026-01-01T02:00", "-f", "csv").stdout.trim().split("\n");
    expect(csv[1]).toStartWith("GPU-11111111-0000-0000-0000-000000000000,NVIDIA H100 80GB HBM3,7200,2,3600,1,");
    const bad = cli("usage", "--from", "2026-01-01", "--by", "rack");
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toBe("gpu_monitor: usage error: --by must be one of gpu, user, process, container, pod, not 'rack'\n");
  });
});
