// A real database file with a page of raw samples in the middle overwritten.

import { Database } from "bun:sqlite";
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Store } from "../../src/store/store.ts";
import { eightGpus, writeTick } from "./samples.ts";

/** A database with 40 minutes of raw samples of 8 GPUs, then a page of them in the middle of the file overwritten. */
export function damagedDatabase() {
  const dir = mkdtempSync(join(tmpdir(), "gpu-monitor-damaged-"));
  const file = join(dir, "gpu_metrics.db");
  const store = Store.open(file);
  for (let tick = 0; tick < 2400; tick++) writeTick(store, 1_800_000_000 + tick, eightGpus(tick));
  store.close(); // checkpoints: every page is in the file itself
  const check = new Database(file, { readonly: true });
  const middle = (check.query("SELECT count(*) / 2 AS page FROM dbstat WHERE name = 'samples' AND pagetype = 'leaf'").get() as { page: number }).page;
  const page = (check.query("SELECT pageno FROM dbstat WHERE name = 'samples' AND pagetype = 'leaf' LIMIT 1 OFFSET ?").get(middle) as { pageno: number }).pageno;
  check.close();
  const fd = openSync(file, "r+");
  writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, (page - 1) * 4096);
  closeSync(fd);
  writeFileSync(join(dir, "config.json"), JSON.stringify({ database: { file: "gpu_metrics.db" }, logging: { file: "" } }));
  return { dir, file, config: join(dir, "config.json"), bytes: readFileSync(file) };
}
