// The compiled binary's queries over a database whose older samples are compacted
// into blocks and whose newest are rows: -sc and export print the same shapes and
// the same numbers as were stored, across the boundary.

import { expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { METRICS } from "../../src/metrics/catalog.ts";
import { readingFields } from "../../src/metrics/records.ts";
import { Store } from "../../src/store/store.ts";
import { runBinary } from "../helpers/binary.ts";
import { eightGpus, writeTick } from "../helpers/samples.ts";

const T0 = 1_767_225_600; // 2026-01-01T00:00:00Z
const SECONDS = 1500; // 25 minutes: two compacted 10-minute spans, then 5 minutes of rows

test("-sc and export read blocks and rows alike, exactly as stored", async () => {
  const dir = mkdtempSync(join(tmpdir(), "gpu-monitor-blocks-"));
  writeFileSync(join(dir, "config.json"), JSON.stringify({ database: { file: "g.db" }, logging: { file: "" } }));
  const store = Store.open(join(dir, "g.db"));
  for (let t = 0; t < SECONDS; t++) writeTick(store, T0 + t, eightGpus(t));
  expect(store.samples.compact(T0 + SECONDS)).toEqual({ spans: 2, more: false });
  store.close();
  const env = { TZ: "UTC" };
  const cli = (...args: string[]) => runBinary(["-c", join(dir, "config.json"), ...args], env, dir);

  const exported = cli("export", "--from", "2026-01-01T00:00:00Z", "--to", "2026-01-01T00:25:00Z");
  expect(exported.exitCode).toBe(0);
  const groups = JSON.parse(exported.stdout) as Array<{ timestamp: string; gpus: Array<Record<string, unknown>> }>;
  expect(groups).toHaveLength(SECONDS);
  for (const t of [0, 599, 600, 1199, 1200, 1499]) {
    const group = groups[t]!;
    expect(Date.parse(group.timestamp) / 1000).toBe(T0 + t);
    const expected = eightGpus(t);
    expect(group.gpus.map((gpu) => gpu.uid)).toEqual(expected.map((gpu) => gpu.uuid));
    expect(group.gpus.map((gpu) => [gpu.temperature, gpu.memory_used, gpu.memory_free, gpu.power_usage, gpu.energy_consumption])).toEqual(
      expected.map((gpu) => [gpu.temperatureCelsius, gpu.memoryUsedBytes, gpu.memoryFreeBytes, gpu.powerUsageMilliwatts! / 1000, gpu.energyMillijoules]),
    );
  }

  // Every field of every record, in order: what the readings were, as a stored sample shows them.
  const storedFields = new Set(METRICS.filter((metric) => !metric.snapshotOnly).map((metric) => metric.name));
  groups.forEach((group, t) => {
    const expected = eightGpus(t).map((gpu) => Object.fromEntries(readingFields(gpu).filter(([name]) => storedFields.has(name))));
    expect(group.gpus).toEqual(expected);
  });

  const csv = cli("export", "--from", "2026-01-01T00:09:00Z", "--to", "2026-01-01T00:11:00Z", "--format", "csv").stdout.trimEnd().split("\n");
  expect(csv).toHaveLength(1 + 120 * 8); // header, then every GPU of every second across the block boundary
  expect(csv[1]!.startsWith("2026-01-01T00:09:00+00:00,GPU-00000000-0000-0000-0000-000000000000,")).toBe(true);

  const minute = cli("-sc", "2026-01-01 00:10:30", "-f", "csv").stdout.trimEnd().split("\n");
  expect(minute).toHaveLength(1 + 60 * 8);
  expect(minute[1]!.startsWith("2026-01-01T00:10:00+00:00,")).toBe(true);
}, 30_000);
