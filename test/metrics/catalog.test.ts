// The metric catalog: one declaration per metric, and what is derived from it.

import { describe, expect, test } from "bun:test";
import { WINDOW_FIELDS, GPU_METRICS, METRICS, SAMPLE_METRICS, WINDOW_METRICS } from "../../src/metrics/catalog.ts";
import { RAW_METRICS, readingFields, windowEntries } from "../../src/metrics/records.ts";
import { AGGREGATE_COLUMNS, ALONGSIDE, MIGRATIONS, SCHEMA_VERSION } from "../../src/store/schema.ts";
import { gpuSample } from "../helpers/samples.ts";

const ORIGINAL = ["uid", "pci_bus_id", "name", "temperature", "memory_used", "memory_total", "gpu_utilization", "memory_utilization", "power_usage", "fan_speed", "graphics_clock", "memory_clock"];

describe("the metric catalog", () => {
  test("the original tool's twelve fields come first, in its order", () => {
    expect(METRICS.slice(0, 12).map((metric) => metric.name)).toEqual(ORIGINAL);
    expect(METRICS.filter((metric) => metric.original).map((metric) => metric.name)).toEqual(ORIGINAL);
  });

  test("names, stored columns and exporter names are each used once", () => {
    const unique = (values: Array<string | null>) => {
      const present = values.filter((value) => value !== null);
      expect(new Set(present).size).toBe(present.length);
    };
    unique(METRICS.map((metric) => metric.name));
    unique(SAMPLE_METRICS.map((metric) => metric.column));
    unique(GPU_METRICS.map((metric) => metric.gpuColumn));
    unique(METRICS.map((metric) => metric.exporter));
  });

  test("units: stored as NVML gives them, converted only where shown (power mW -> W)", () => {
    const power = METRICS.find((metric) => metric.name === "power_usage")!;
    expect([power.storedUnit, power.shownUnit, power.column]).toEqual(["mW", "W", "power_mw"]);
    expect(power.show(512_340)).toBe(512.34);
    expect(power.show(null)).toBeNull();
    const pcie = METRICS.find((metric) => metric.name === "pcie_tx_throughput")!;
    expect([pcie.kind, pcie.storedUnit, pcie.shownUnit, pcie.exporter]).toEqual(["gauge", "KB/s", "KB/s", "DCGM_FI_DEV_PCIE_TX_THROUGHPUT"]);
  });

  test("a reading shows every metric, snapshot-only ones included, in catalog order", () => {
    const fields = readingFields(gpuSample({ fanSpeedsPercent: [30, 41], clockEventReasons: 0x4 }));
    expect(fields.map(([name]) => name)).toEqual(METRICS.map((metric) => metric.name));
    const byName = Object.fromEntries(fields);
    expect(byName).toMatchObject({ power_usage: 512.34, fan_speed: 36, fan_speeds: [30, 41], ecc_enabled: true, pcie_tx_throughput: 1200 });
    expect(byName.clock_event_reason_names).toEqual(["sw_power_cap"]);
    expect(RAW_METRICS.map((metric) => metric.name)).not.toContain("fan_speeds");
  });

  test("a window's record: originals, their extremes, counts, counters, then the rest; the upload leaves out what is not uploaded", () => {
    const identity = { uid: "GPU-1", pci_bus_id: "b", name: "n", memory_total: 80, serial: "s", memory_reserved: 1, ecc_enabled: 1 };
    const values = Object.fromEntries(AGGREGATE_COLUMNS.map((column) => [column, column.startsWith("power") ? 250_123.4567 : 7]));
    const entries = windowEntries(identity, { sampleCount: 60, coverage: 0.99999, values }, (metric) => metric.inWindow);
    const names = entries.map(([name]) => name);
    expect(names.slice(0, 12)).toEqual(ORIGINAL);
    expect(names.slice(12, 28)).toEqual(ORIGINAL.filter((name) => WINDOW_METRICS.some((m) => m.name === name)).flatMap((name) => [`${name}_min`, `${name}_max`]));
    expect(names.slice(28, 32)).toEqual(["sample_count", "coverage", "energy_consumption", "serial"]);
    const fields = WINDOW_FIELDS.length;
    expect(names.slice(-3 - 19 - fields, -19 - fields)).toEqual(["pcie_rx_throughput", "pcie_rx_throughput_min", "pcie_rx_throughput_max"]);
    // then the MIG identities (schema 8) and the GPM gauges with their extremes
    expect(names.slice(-19 - fields, -15 - fields)).toEqual(["parent_uid", "mig_profile", "gpu_instance_id", "compute_instance_id"]);
    expect(names.slice(-3 - fields, -fields)).toEqual(["graphics_activity", "graphics_activity_min", "graphics_activity_max"]);
    // then the window's own fields, usage over the interval first and health after
    expect(names.slice(-fields)).toEqual(WINDOW_FIELDS.map((field) => field.name));
    expect(names.slice(-fields, -fields + 3)).toEqual(["busy_seconds", "averaged_share", "energy_source"]);
    const byName = Object.fromEntries(entries);
    expect(byName.power_usage).toBe(250.123); // an average keeps three decimals of the shown unit
    expect(byName.power_usage_max).toBe(250_123.4567 / 1000); // an extreme is shown unrounded
    expect(byName.coverage).toBe(1);
    expect(names).not.toContain("memory_reserved");
  });

  test("the schema's later migrations are made from the catalog: PCIe throughput came in schema 5", () => {
    expect(SCHEMA_VERSION).toBe(
      Math.max(4, ...METRICS.map((metric) => metric.since), ...WINDOW_FIELDS.map((field) => field.since), ...Object.keys(ALONGSIDE).map(Number)),
    );
    expect(MIGRATIONS[4]!.split("\n")).toEqual([
      "ALTER TABLE samples ADD COLUMN pcie_tx_throughput INTEGER;",
      "ALTER TABLE sample_blocks ADD COLUMN pcie_tx_throughput BLOB;",
      "ALTER TABLE aggregates ADD COLUMN pcie_tx_throughput REAL;",
      "ALTER TABLE aggregates ADD COLUMN pcie_tx_throughput_min INTEGER;",
      "ALTER TABLE aggregates ADD COLUMN pcie_tx_throughput_max INTEGER;",
      "ALTER TABLE samples ADD COLUMN pcie_rx_throughput INTEGER;",
      "ALTER TABLE sample_blocks ADD COLUMN pcie_rx_throughput BLOB;",
      "ALTER TABLE aggregates ADD COLUMN pcie_rx_throughput REAL;",
      "ALTER TABLE aggregates ADD COLUMN pcie_rx_throughput_min INTEGER;",
      "ALTER TABLE aggregates ADD COLUMN pcie_rx_throughput_max INTEGER;",
    ]);
  });

  test("schema 6 adds how utilization was obtained, health per sample, the window fields and the events' uuid and code", () => {
    const statements = MIGRATIONS[5]!.split("\n");
    expect(statements).toContain("ALTER TABLE samples ADD COLUMN utilization_samples INTEGER;");
    expect(statements).toContain("ALTER TABLE samples ADD COLUMN busy_ms INTEGER;");
    expect(statements).toContain("ALTER TABLE sample_blocks ADD COLUMN remapped_rows_pending BLOB;");
    expect(statements).toContain("ALTER TABLE aggregates ADD COLUMN xid_errors TEXT;");
    expect(statements).toContain("ALTER TABLE aggregates ADD COLUMN healthy_seconds REAL;");
    expect(statements.slice(-2)).toEqual(["ALTER TABLE events ADD COLUMN gpu_uuid TEXT;", "ALTER TABLE events ADD COLUMN code INTEGER;"]);
    // utilization_source is shown from utilization_samples' column: no column of its own
    expect(statements.join("\n")).not.toContain("utilization_source");
  });
});
