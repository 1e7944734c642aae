// The database schema, as migrations run in order by PRAGMA user_version.
// Metrics are typed columns with integer UTC timestamps (seconds), never JSON.
// Migrations 1 to 4 are history, written out; every later one is made from the
// metric catalog: a metric with `since: N` gets its columns in migration N.

import { METRICS, WINDOW_FIELDS, WINDOW_METRICS, type Metric } from "../metrics/catalog.ts";

const WRITTEN_OUT: readonly string[] = [
  // 1: GPUs, raw samples, window aggregates and the send ledger.
  `
  CREATE TABLE gpus (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    pci_bus_id TEXT,
    name TEXT,
    serial TEXT,
    -- Values that do not change while a GPU is installed are kept here, not in every sample.
    memory_total INTEGER,
    memory_reserved INTEGER,
    ecc_enabled INTEGER,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL
  );

  -- One row per GPU per tick. WITHOUT ROWID with (ts, gpu_id) first: ticks append at
  -- the end of the tree and time-range queries need no second index.
  CREATE TABLE samples (
    ts INTEGER NOT NULL,
    gpu_id INTEGER NOT NULL REFERENCES gpus(id),
    temperature INTEGER,
    memory_used INTEGER,
    memory_free INTEGER,
    gpu_utilization INTEGER,
    memory_utilization INTEGER,
    power_mw INTEGER,
    power_limit_mw INTEGER,
    fan_speed INTEGER,
    graphics_clock INTEGER,
    sm_clock INTEGER,
    memory_clock INTEGER,
    energy_mj INTEGER,
    performance_state INTEGER,
    clock_event_reasons INTEGER,
    ecc_errors_corrected INTEGER,
    ecc_errors_uncorrected INTEGER,
    encoder_utilization INTEGER,
    decoder_utilization INTEGER,
    pcie_link_generation INTEGER,
    pcie_link_width INTEGER,
    PRIMARY KEY (ts, gpu_id)
  ) WITHOUT ROWID;

  -- One row per closed aggregation window; the send ledger's state lives here too.
  CREATE TABLE windows (
    start INTEGER PRIMARY KEY,
    period_seconds INTEGER NOT NULL,
    interval_seconds REAL NOT NULL,
    aggregated_at INTEGER NOT NULL,
    send_state TEXT NOT NULL DEFAULT 'pending' CHECK (send_state IN ('pending', 'sent', 'failed')),
    sent_at INTEGER,
    server_uid TEXT,
    next_attempt_at INTEGER
  );
  CREATE INDEX windows_pending ON windows (send_state, start) WHERE send_state != 'sent';

  CREATE TABLE aggregates (
    window_start INTEGER NOT NULL REFERENCES windows(start) ON DELETE CASCADE,
    gpu_id INTEGER NOT NULL REFERENCES gpus(id),
    sample_count INTEGER NOT NULL,
    coverage REAL NOT NULL,
    energy_mj INTEGER,
    temperature REAL, temperature_min INTEGER, temperature_max INTEGER,
    memory_used REAL, memory_used_min INTEGER, memory_used_max INTEGER,
    memory_free REAL, memory_free_min INTEGER, memory_free_max INTEGER,
    gpu_utilization REAL, gpu_utilization_min INTEGER, gpu_utilization_max INTEGER,
    memory_utilization REAL, memory_utilization_min INTEGER, memory_utilization_max INTEGER,
    power_mw REAL, power_mw_min INTEGER, power_mw_max INTEGER,
    power_limit_mw REAL, power_limit_mw_min INTEGER, power_limit_mw_max INTEGER,
    fan_speed REAL, fan_speed_min INTEGER, fan_speed_max INTEGER,
    graphics_clock REAL, graphics_clock_min INTEGER, graphics_clock_max INTEGER,
    sm_clock REAL, sm_clock_min INTEGER, sm_clock_max INTEGER,
    memory_clock REAL, memory_clock_min INTEGER, memory_clock_max INTEGER,
    encoder_utilization REAL, encoder_utilization_min INTEGER, encoder_utilization_max INTEGER,
    decoder_utilization REAL, decoder_utilization_min INTEGER, decoder_utilization_max INTEGER,
    PRIMARY KEY (window_start, gpu_id)
  ) WITHOUT ROWID;

  CREATE TABLE send_attempts (
    id INTEGER PRIMARY KEY,
    window_start INTEGER NOT NULL REFERENCES windows(start) ON DELETE CASCADE,
    attempted_at INTEGER NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('sent', 'retryable', 'fatal')),
    http_status INTEGER,
    error TEXT,
    server_uid TEXT,
    latency_ms INTEGER
  );
  CREATE INDEX send_attempts_window ON send_attempts (window_start, attempted_at);
  `,
  // 2: host facts for uploads, and the count of permanent failures toward server.max_attempts.
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
  ALTER TABLE windows ADD COLUMN fatal_count INTEGER NOT NULL DEFAULT 0;
  `,
  // 3: what happened to NVML and the GPUs (lost, back, driver gone, hung), for the record.
  `
  CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    kind TEXT NOT NULL,
    gpu_index INTEGER,
    detail TEXT NOT NULL
  );
  CREATE INDEX events_ts ON events (ts);
  `,
  // 4: raw samples of closed 10-minute spans, compacted into one block per GPU per
  // span (blocks.ts): each metric's values over the span as one encoded column.
  `
  CREATE TABLE sample_blocks (
    id INTEGER PRIMARY KEY,
    start INTEGER NOT NULL,
    gpu_id INTEGER NOT NULL REFERENCES gpus(id),
    sample_count INTEGER NOT NULL,
    first_ts INTEGER NOT NULL,
    last_ts INTEGER NOT NULL,
    ts BLOB NOT NULL,
    temperature BLOB NOT NULL,
    memory_used BLOB NOT NULL,
    memory_free_plus_used BLOB NOT NULL,
    gpu_utilization BLOB NOT NULL,
    memory_utilization BLOB NOT NULL,
    power_mw BLOB NOT NULL,
    power_limit_mw BLOB NOT NULL,
    fan_speed BLOB NOT NULL,
    graphics_clock BLOB NOT NULL,
    sm_clock BLOB NOT NULL,
    memory_clock BLOB NOT NULL,
    energy_mj BLOB NOT NULL,
    performance_state BLOB NOT NULL,
    clock_event_reasons BLOB NOT NULL,
    ecc_errors_corrected BLOB NOT NULL,
    ecc_errors_uncorrected BLOB NOT NULL,
    encoder_utilization BLOB NOT NULL,
    decoder_utilization BLOB NOT NULL,
    pcie_link_generation BLOB NOT NULL,
    pcie_link_width BLOB NOT NULL,
    UNIQUE (start, gpu_id)
  );
  `,
];

/** A window's stored columns for one metric: a gauge's average, minimum and maximum; a counter's increase. */
export function aggregateColumns(metric: Metric): string[] {
  const column = metric.column!;
  return metric.kind === "counter" ? [column] : [column, `${column}_min`, `${column}_max`];
}

/** Every stored column of a window's GPU record: WINDOW_METRICS' summaries, then WINDOW_FIELDS. */
export const AGGREGATE_COLUMNS: readonly string[] = [...WINDOW_METRICS.flatMap(aggregateColumns), ...WINDOW_FIELDS.map((field) => field.column)];

/** Changes a catalog migration makes besides the catalog's columns. */
export const ALONGSIDE: Readonly<Record<number, readonly string[]>> = {
  // Driver events (XID, ECC) name their GPU by uuid, which outlives an index, and carry a code.
  6: ["ALTER TABLE events ADD COLUMN gpu_uuid TEXT", "ALTER TABLE events ADD COLUMN code INTEGER"],
  // Who used each GPU (src/store/processes.ts). A process's identity and a user's name are
  // kept once; each window holds a row per GPU per process and per GPU per user, added to
  // tick by tick, so a process running for a day is 24 hourly rows of numbers, not 1,440 copies.
  7: [
    `CREATE TABLE process_users (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)`,
    // start_key: the start time in clock ticks after boot (/proc/<pid>/stat), which tells a reused
    // pid from its predecessor; minus the first tick's time for a process whose start is unknown.
    // boot_id: the boot it ran in (start_key restarts at each boot). hashed: a row of "hashed" mode
    // never matches a plain one, so no plain name reaches a hashed window. AUTOINCREMENT: an id
    // is never reused, so a tick kept for a pruned identity can never land on another process.
    `CREATE TABLE processes (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      pid INTEGER NOT NULL,
      start_key INTEGER NOT NULL,
      started_at INTEGER,
      name TEXT,
      uid INTEGER,
      user_id INTEGER NOT NULL,
      container_id TEXT,
      pod_uid TEXT,
      note TEXT,
      boot_id TEXT NOT NULL DEFAULT '',
      hashed INTEGER NOT NULL DEFAULT 0,
      UNIQUE (pid, start_key, boot_id, hashed)
    )`,
    // user_id 0: the owner is unknown (e.g. a process outside the agent's pid namespace).
    `CREATE TABLE process_windows (
      window_start INTEGER NOT NULL,
      gpu_id INTEGER NOT NULL,
      process_id INTEGER NOT NULL,
      gpu_seconds INTEGER NOT NULL,
      sm_seconds REAL,
      memory_max INTEGER,
      first_seen INTEGER NOT NULL,
      last_seen INTEGER NOT NULL,
      PRIMARY KEY (window_start, gpu_id, process_id)
    ) WITHOUT ROWID`,
    `CREATE TABLE user_windows (
      window_start INTEGER NOT NULL,
      gpu_id INTEGER NOT NULL,
      user_id INTEGER NOT NULL,
      gpu_seconds INTEGER NOT NULL,
      sm_seconds REAL,
      memory_max INTEGER,
      PRIMARY KEY (window_start, gpu_id, user_id)
    ) WITHOUT ROWID`,
    // A tick's processes of one GPU until its window closes and folds them into the rows above:
    // entries packs (process id, user id, memory bytes, SM share) as float64s; NULL when refused.
    // A rowid table: rows of kilobytes insert faster there than in a WITHOUT ROWID tree (measured).
    `CREATE TABLE process_ticks (
      ts INTEGER NOT NULL,
      gpu_id INTEGER NOT NULL,
      seconds INTEGER NOT NULL,
      refused_code TEXT,
      entries BLOB,
      PRIMARY KEY (ts, gpu_id)
    )`,
    // Seconds each GPU's process list was read, and refused (with NVML's code), per window;
    // occupied: seconds its list held at least one process (the share of the energy billed).
    `CREATE TABLE process_lists (
      window_start INTEGER NOT NULL,
      gpu_id INTEGER NOT NULL,
      listed_seconds INTEGER NOT NULL,
      refused_seconds INTEGER NOT NULL,
      refused_code TEXT,
      occupied_seconds INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY (window_start, gpu_id)
    ) WITHOUT ROWID`,
  ],
  // The latest send attempt (status, and /metrics at every tick) without sorting every attempt kept.
  9: ["CREATE INDEX send_attempts_at ON send_attempts (attempted_at, id)"],
};

/** A metric's column in compacted blocks (a sum with another metric has one of its own: blocks.ts). */
export function blockColumnName(metric: Metric): string {
  return metric.blockSum?.blockColumn ?? metric.column!;
}

function catalogMigration(version: number): string {
  const statements: string[] = [];
  for (const metric of METRICS.filter((m) => m.since === version)) {
    if (metric.gpuColumn) statements.push(`ALTER TABLE gpus ADD COLUMN ${metric.gpuColumn}`); // text or a number
    if (!metric.column || metric.kind === "list") continue;
    statements.push(`ALTER TABLE samples ADD COLUMN ${metric.column} INTEGER`);
    // NULL in a block written before this metric existed: it reads as nulls.
    statements.push(`ALTER TABLE sample_blocks ADD COLUMN ${blockColumnName(metric)} BLOB`);
    if (WINDOW_METRICS.includes(metric)) {
      for (const column of aggregateColumns(metric)) {
        const average = metric.kind === "gauge" && column === metric.column;
        statements.push(`ALTER TABLE aggregates ADD COLUMN ${column} ${average ? "REAL" : "INTEGER"}`);
      }
    }
  }
  for (const field of WINDOW_FIELDS.filter((f) => f.since === version)) {
    statements.push(`ALTER TABLE aggregates ADD COLUMN ${field.column} ${field.sqlType}`);
  }
  statements.push(...(ALONGSIDE[version] ?? []));
  return statements.map((statement) => `${statement};`).join("\n");
}

const NEWEST = Math.max(
  WRITTEN_OUT.length,
  ...METRICS.map((metric) => metric.since),
  ...WINDOW_FIELDS.map((field) => field.since),
  ...Object.keys(ALONGSIDE).map(Number),
);

export const MIGRATIONS: readonly string[] = Array.from({ length: NEWEST }, (_, at) =>
  at < WRITTEN_OUT.length ? WRITTEN_OUT[at]! : catalogMigration(at + 1),
);

export const SCHEMA_VERSION = MIGRATIONS.length;
