// Bun's own floor under the agent, for test/bench/floor.ts: what a Bun process costs
// a tick before any of the agent's code runs. Run with the systemd unit's environment.
//
//   bun test/bench/bun_floor.ts wake <interval-seconds>
//       wakes at wall-clock multiples of the interval and does nothing;
//   bun test/bench/bun_floor.ts store <interval-seconds> <database>
//       also gets 8 rows from a Worker (as the agent samples in one) and stores them as
//       agent_floor.c does: the same table, pragmas, statement and one IMMEDIATE
//       transaction a tick, through bun:sqlite. No NVML: on the fake library the
//       binding's calls cost ~2.5 µs a tick (the sampling benchmark).

import { Database } from "bun:sqlite";

const [mode, intervalArg, file] = process.argv.slice(2);
const intervalMs = Number(intervalArg) * 1000;
const COLUMNS = [
  "temperature", "memory_used", "memory_free", "gpu_utilization", "memory_utilization", "power_mw", "power_limit_mw",
  "fan_speed", "graphics_clock", "sm_clock", "memory_clock", "energy_mj", "performance_state", "clock_event_reasons",
  "ecc_errors_corrected", "ecc_errors_uncorrected", "encoder_utilization", "decoder_utilization",
  "pcie_link_generation", "pcie_link_width", "pcie_tx_throughput", "pcie_rx_throughput",
];

let tick: () => Promise<void> = async () => {};
if (mode === "store") {
  const db = new Database(file!, { create: true, strict: true });
  for (const pragma of ["busy_timeout = 5000", "journal_mode = WAL", "synchronous = FULL", "foreign_keys = ON", "wal_autocheckpoint = 256"]) {
    db.exec(`PRAGMA ${pragma}`);
  }
  db.exec("CREATE TABLE IF NOT EXISTS gpus (id INTEGER PRIMARY KEY, uid TEXT NOT NULL UNIQUE, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL)");
  db.exec(
    `CREATE TABLE IF NOT EXISTS samples (ts INTEGER NOT NULL, gpu_id INTEGER NOT NULL REFERENCES gpus(id),
       ${COLUMNS.map((c) => `${c} INTEGER`).join(", ")}, PRIMARY KEY (ts, gpu_id)) WITHOUT ROWID`,
  );
  const now = Math.floor(Date.now() / 1000);
  const ids = Array.from({ length: 8 }, (_, i) =>
    (db.query("INSERT INTO gpus (uid, first_seen, last_seen) VALUES (?1, ?2, ?2) ON CONFLICT (uid) DO UPDATE SET last_seen = ?2 RETURNING id").get(`GPU-${i}`, now) as { id: number }).id,
  );
  const insert = db.prepare(`INSERT OR REPLACE INTO samples (ts, gpu_id, ${COLUMNS.join(", ")}) VALUES (?, ?, ${COLUMNS.map(() => "?").join(", ")})`);
  const write = db.transaction((ts: number, rows: number[][]) => {
    for (let i = 0; i < rows.length; i++) insert.run(ts, ids[i]!, ...rows[i]!);
  });
  const worker = new Worker(new URL("./bun_floor_worker.ts", import.meta.url));
  const sample = () =>
    new Promise<number[][]>((resolve) => {
      worker.onmessage = (event: MessageEvent<number[][]>) => resolve(event.data);
      worker.postMessage(COLUMNS.length);
    });
  tick = async () => {
    const rows = await sample();
    write.immediate(Math.floor(Date.now() / 1000), rows);
  };
} else if (mode !== "wake") {
  console.error("usage: bun test/bench/bun_floor.ts wake|store <interval-seconds> [database]");
  process.exit(2);
}

let stopping = false;
process.on("SIGTERM", () => (stopping = true));
while (!stopping) {
  await Bun.sleep(intervalMs - (Date.now() % intervalMs)); // the next wall-clock multiple, as the agent's ticks
  if (!stopping) await tick();
}
process.exit(0);
