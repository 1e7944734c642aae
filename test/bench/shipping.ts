// Shipping benchmark: a backlog of 720 windows (30 days of hourly windows) for
// 8 GPUs drained against a server on 127.0.0.1 that echoes every body back.
// Usage: bun test/bench/shipping.ts

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { ConfigSchema } from "../../src/config/schema.ts";
import { createLogger } from "../../src/log.ts";
import { Shipper } from "../../src/ship/shipper.ts";
import { AGGREGATE_COLUMNS } from "../../src/store/schema.ts";
import { Store } from "../../src/store/store.ts";
import { eightGpus, writeTick } from "../helpers/samples.ts";
import { acceptAll, startServer } from "../helpers/server.ts";

export interface ShippingFigures {
  windows: number;
  seconds: number;
  requestBytesPerWindow: number;
  gzipBytesPerWindow: number;
}

/** 720 hourly windows with 8 GPUs' aggregates each, as the aggregator stores them. */
function backlog(store: Store, windows: number): void {
  writeTick(store, 0, eightGpus(0)); // the 8 GPUs
  const start = Math.floor(Date.UTC(2026, 0, 1) / 1000);
  for (let w = 0; w < windows; w++) {
    store.windows.write(
      start + w * 3600,
      3600,
      60,
      start + (w + 1) * 3600,
      Array.from({ length: 8 }, (_, gpu) => ({
        gpuId: gpu + 1,
        sampleCount: 60,
        coverage: 1,
        // An average with a fraction, a minimum and a maximum for each gauge; the energy counter's increase.
        values: AGGREGATE_COLUMNS.map((column, c) =>
          column === "energy_mj" ? 2_160_000_000 + w * 1000 + gpu : column.endsWith("_min") ? 900 + c : column.endsWith("_max") ? 1100 + w + c : 1000 + w + gpu + c + 0.375,
        ),
      })),
    );
  }
}

export async function shippingBenchmark(windows = 720): Promise<ShippingFigures> {
  const folder = mkdtempSync(join(tmpdir(), "gpu-monitor-ship-bench-"));
  const store = Store.open(join(folder, "gpu_metrics.db"));
  let bytes = 0;
  let gzipBytes = 0;
  const server = startServer((upload) => {
    const text = JSON.stringify(upload.body);
    bytes += Buffer.byteLength(text);
    gzipBytes += Bun.gzipSync(text).length;
    return acceptAll(upload);
  });
  try {
    backlog(store, windows);
    const config = v.parse(ConfigSchema, { server: { url: server.url, contract_number: "12345" } });
    const logger = createLogger("ERROR", { write: () => true } as unknown as NodeJS.WritableStream);
    const shipper = new Shipper({ store, config, logger });
    const started = performance.now();
    const results = await shipper.kick();
    const seconds = (performance.now() - started) / 1000;
    const sent = store.ledger.counts().sent;
    if (results.length !== windows || sent !== windows) throw new Error(`only ${sent} of ${windows} windows were delivered`);
    return { windows, seconds, requestBytesPerWindow: bytes / windows, gzipBytesPerWindow: gzipBytes / windows };
  } finally {
    server.stop();
    store.close();
    rmSync(folder, { recursive: true, force: true });
  }
}

export function printShipping(f: ShippingFigures): void {
  console.log(`\nShipping: a backlog of ${f.windows} windows x 8 GPUs to a server on 127.0.0.1, one request at a time`);
  console.log(`  drained in ${f.seconds.toFixed(2)} s (${((f.seconds / f.windows) * 1000).toFixed(1)} ms per window)   (target <= 60 s)`);
  console.log(`  request body ${(f.requestBytesPerWindow / 1024).toFixed(1)} KiB per window (${(f.gzipBytesPerWindow / 1024).toFixed(1)} KiB if gzipped)`);
}

if (import.meta.main) printShipping(await shippingBenchmark());
