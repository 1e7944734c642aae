// A database recorded by the previous release (0.1.0 before the metric catalog:
// rows, compacted blocks, a late row over a block, a gap, a counter reset, a GPU
// that appears later, windows and send attempts) must read the same: every query
// command's output and the upload bodies byte for byte, apart from metrics added
// since (NEW_FIELDS), which are cut out before comparing. The expected files were
// written by that release from this database and are never regenerated.

import { describe, expect, test } from "bun:test";
import { cpSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { SCHEMA_VERSION } from "../../src/store/schema.ts";
import { Store } from "../../src/store/store.ts";

const FIXTURE = join(import.meta.dir, "../fixtures/previous-release");
const MAIN = join(import.meta.dir, "../../src/main.ts");
/** Output fields added after that release; each also as _min/_max in windows. */
const NEW_FIELDS = [
  "pcie_tx_throughput",
  "pcie_rx_throughput",
  // samples: how utilization was obtained, and health
  "utilization_source",
  "utilization_samples",
  "busy_seconds",
  "remapped_rows_correctable",
  "remapped_rows_uncorrectable",
  "remapped_rows_pending",
  "remapped_rows_failure",
  // windows: usage over the interval and health (busy_seconds and remapped rows again)
  "averaged_share",
  "energy_source",
  "xid_count",
  "xid_errors",
  "ecc_errors_corrected_delta",
  "ecc_errors_uncorrected_delta",
  "clock_event_seconds",
  "healthy_seconds",
  "unavailable_seconds",
  // MIG devices (who they are) and GPM activity
  "parent_uid",
  "mig_profile",
  "gpu_instance_id",
  "compute_instance_id",
  "sm_activity",
  "sm_occupancy",
  "tensor_activity",
  "dram_activity",
  "graphics_activity",
  // windows: who used each GPU (null: no process list recorded)
  "processes",
  "users",
  "field_errors",
];
const NEW_NAMES = NEW_FIELDS.flatMap((field) => [field, `${field}_min`, `${field}_max`]);

const commands = JSON.parse(readFileSync(join(FIXTURE, "commands.json"), "utf8")) as Record<string, string[]>;

function fixtureCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), "gpu-monitor-previous-"));
  cpSync(join(FIXTURE, "gpu_metrics.db"), join(dir, "gpu_metrics.db"));
  cpSync(join(FIXTURE, "config.json"), join(dir, "config.json"));
  return dir;
}

function run(dir: string, args: string[]) {
  const result = Bun.spawnSync([process.execPath, MAIN, "-c", join(dir, "config.json"), ...args], {
    env: { ...process.env, TZ: "UTC", NO_COLOR: "1" },
  });
  return { stdout: result.stdout.toString(), stderr: result.stderr.toString().replaceAll(dir, "<dir>"), exitCode: result.exitCode };
}

/** JSON (indented or compact) without the new fields: they come last in a record, after a comma. */
function withoutNewJsonFields(text: string): string {
  const names = NEW_NAMES.join("|");
  return text.replace(new RegExp(`,\\s*"(?:${names})":\\s*(?:null|-?[0-9.eE+]+)`, "g"), "");
}

/** CSV without the new columns (the last ones; their cells are numbers or empty). */
function withoutNewCsvColumns(text: string): string {
  const lines = text.split("\n");
  const header = lines[0]!.split(",");
  const added = header.filter((column) => NEW_NAMES.includes(column)).length;
  if (added === 0) return text;
  expect(header.slice(-added).every((column) => NEW_NAMES.includes(column))).toBe(true);
  const tail = new RegExp(`(?:,[-0-9.eE+]*){${added}}$`);
  return lines.map((line) => (line === "" ? line : line.replace(line === lines[0] ? new RegExp(`(?:,[a-z_]+){${added}}$`) : tail, ""))).join("\n");
}

/**
 * What status added since that release: how each GPU's utilization is obtained (a
 * line, and a field per GPU), the events of the last 24 hours (none here: the
 * database's events are older, so the text lists the recent ones as before) and
 * each GPU model with its count (`gpu_models`).
 */
function withoutNewStatusParts(text: string): string {
  return text
    .replace(/^Utilization: .*\n/m, "")
    .replace(/,\n\s*"utilization_source": (?:null|"\w+")/g, "")
    .replace(/,\n\s*"events_last_24h": \[\]/, "")
    .replace(/,\n {2}"gpu_models": \[\n[\s\S]*?\n {2}\]/, "");
}

/** What status changed since that release: "GPUs seen" names each model once, with its count. */
function withModelCounts(expected: string): string {
  const before = 'GPUs seen:    3 (NVIDIA H100 80GB HBM3, NVIDIA H100 80GB HBM3, GeForce "RTX", 4090)\n';
  if (!expected.startsWith("{")) expect(expected).toContain(before);
  return expected.replace(before, 'GPUs seen:    3 (2 × NVIDIA H100 80GB HBM3, GeForce "RTX", 4090)\n');
}

/** Status says how long ago the last sample was and where the copy lives: both change from run to run. */
function steadyStatus(text: string): string {
  return text.replace(/no sample for \d+ s/g, "no sample for N s").replace(/"file": "[^"]*"/, '"file": "<file>"').replace(/Database: {5}\S+/, "Database:     <file>");
}

describe("a database written by the previous release", () => {
  const dir = fixtureCopy();
  for (const [name, args] of Object.entries(commands)) {
    test(`${args.join(" ")} prints what that release printed`, () => {
      const result = run(dir, args);
      let expected = readFileSync(join(FIXTURE, "expected", `${name}.out`), "utf8");
      let actual = name.endsWith(".csv") ? withoutNewCsvColumns(result.stdout) : withoutNewJsonFields(result.stdout);
      if (name.startsWith("status")) {
        expected = steadyStatus(withModelCounts(expected));
        actual = steadyStatus(withoutNewStatusParts(actual));
      }
      expect(actual).toBe(expected);
      const expectedErr = readFileSync(join(FIXTURE, "expected", `${name}.err`), "utf8");
      expect(`${result.stderr}exit ${result.exitCode}\n`).toBe(expectedErr);
    });
  }

  test("it is read, not changed: the file's bytes stay the same", () => {
    expect(Buffer.compare(readFileSync(join(dir, "gpu_metrics.db")), readFileSync(join(FIXTURE, "gpu_metrics.db")))).toBe(0);
  });

  test("the upload bodies of its pending windows are those that release sent", async () => {
    const copy = fixtureCopy();
    const bodies: unknown[] = [];
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(request) {
        const body = await request.json();
        bodies.push(body);
        return Response.json({ uid: `u${bodies.length}`, params: body });
      },
    });
    try {
      const config = JSON.parse(readFileSync(join(copy, "config.json"), "utf8"));
      config.server = { url: `http://127.0.0.1:${server.port}/api`, contract_number: "C-42" };
      writeFileSync(join(copy, "config.json"), JSON.stringify(config));
      const child = Bun.spawn([process.execPath, MAIN, "send", "-c", join(copy, "config.json")], { env: { ...process.env, TZ: "UTC" }, stdout: "pipe" });
      const printed = await new Response(child.stdout).text();
      expect(await child.exited).toBe(0);
      expect(printed).toBe(readFileSync(join(FIXTURE, "expected", "send.out"), "utf8"));
    } finally {
      server.stop(true);
    }
    const expected = JSON.parse(readFileSync(join(FIXTURE, "expected", "upload-bodies.json"), "utf8")) as any[];
    expect(bodies.length).toBe(expected.length);
    bodies.forEach((body: any, i) => {
      // The host's name and the agent's version are this machine's and this build's.
      body.host.hostname = expected[i].host.hostname;
      body.host.agent_version = expected[i].host.agent_version;
      expect(withoutNewJsonFields(JSON.stringify(body, null, 2))).toBe(JSON.stringify(expected[i], null, 2));
    });
  });

  test("once the agent has migrated it, it still reads the same, with the new columns empty", () => {
    const copy = fixtureCopy();
    const before = run(copy, ["export", "--from", "2025-12-31T23:00:00Z", "--to", "2026-01-01T03:00:00Z"]);
    Store.open(join(copy, "gpu_metrics.db")).close(); // what the agent does first: open read-write, migrate
    const db = new Database(join(copy, "gpu_metrics.db"), { readonly: true });
    expect(db.query("PRAGMA user_version").get()).toEqual({ user_version: SCHEMA_VERSION });
    db.close();
    for (const [name, args] of Object.entries(commands).filter(([name]) => !name.startsWith("status"))) {
      const result = run(copy, args);
      const expected = readFileSync(join(FIXTURE, "expected", `${name}.out`), "utf8");
      expect(name.endsWith(".csv") ? withoutNewCsvColumns(result.stdout) : withoutNewJsonFields(result.stdout)).toBe(expected);
    }
    const after = run(copy, ["export", "--from", "2025-12-31T23:00:00Z", "--to", "2026-01-01T03:00:00Z"]);
    expect(after.stdout).toBe(before.stdout);
    expect(after.stdout).toContain('"pcie_tx_throughput":null,"pcie_rx_throughput":null,"utilization_source":null,"utilization_samples":null');
  });

  test("every expected output was checked", () => {
    const outputs = readdirSync(join(FIXTURE, "expected")).filter((file) => file.endsWith(".out") && file !== "send.out");
    expect(outputs.sort()).toEqual(Object.keys(commands).map((name) => `${name}.out`).sort());
  });
});
