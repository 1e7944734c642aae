// The compiled binary's `status` over a database of eight GPUs, and its agreement with `doctor`.

import { beforeAll, expect, test } from "bun:test";
import { mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Store } from "../../src/store/store.ts";
import { compiledBinary, runBinary, runBinaryAsync } from "../helpers/binary.ts";
import { fakeNvmlLibrary, scenarioFile } from "../helpers/fakeNvml.ts";
import { eightGpus, writeTick } from "../helpers/samples.ts";

beforeAll(() => compiledBinary());

/** Six hours of eight GPUs; with `keepOpen` the writer stays open, so recent writes are still in the WAL. */
function eightGpuDatabase(keepOpen = false) {
  const dir = mkdtempSync(join(tmpdir(), "gpu-monitor-status-"));
  const config = join(dir, "config.json");
  writeFileSync(config, JSON.stringify({ database: { file: "g.db" }, logging: { file: "" } }), { mode: 0o600 });
  const store = Store.open(join(dir, "g.db"));
  const start = 1_767_225_600;
  for (let t = start; t < start + 6 * 3600; t += 60) writeTick(store, t, eightGpus(t));
  if (!keepOpen) store.close();
  return { dir, config, store };
}

test("status names each GPU model once, with how many GPUs are that model", () => {
  const { dir, config } = eightGpuDatabase();
  const text = runBinary(["status", "-c", config], { TZ: "UTC" }, dir).stdout;
  expect(text).toContain("GPUs seen:    8 (8 × NVIDIA H100 80GB HBM3)\n");
  expect(text.match(/NVIDIA H100/g)).toHaveLength(1);
  const json = JSON.parse(runBinary(["status", "-f", "json", "-c", config], { TZ: "UTC" }, dir).stdout);
  expect(json.gpu_models).toEqual([{ name: "NVIDIA H100 80GB HBM3", count: 8 }]);
  expect(json.gpus).toHaveLength(8);
});

test("status and doctor show the same database size, the write-ahead log included", async () => {
  const { dir, config, store } = eightGpuDatabase(true);
  expect(statSync(join(dir, "g.db-wal")).size).toBeGreaterThan(100_000);
  const env = { TZ: "UTC", GPU_MONITOR_NVML_LIBRARY: fakeNvmlLibrary("current"), FAKE_NVML_SCENARIO: scenarioFile("eight_gpus") };
  const status = runBinary(["status", "-c", config], env, dir).stdout;
  const doctor = (await runBinaryAsync(["doctor", "-c", config], env, dir)).stdout;
  const statusSize = status.match(/^Database: +.*g\.db \(([\d.]+ [MG]B)\)$/m)?.[1];
  const doctorSize = doctor.match(/^PASS  database +.*g\.db: writable, quick_check ok, ([\d.]+ [MG]B)$/m)?.[1];
  expect(statusSize).toMatch(/^[\d.]+ MB$/);
  expect(statusSize).not.toBe("0.0 MB");
  expect(doctorSize).toBe(statusSize!);
  store.close();
});
