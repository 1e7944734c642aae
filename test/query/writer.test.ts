// The query writer against the obvious implementation: build each group as an
// object and JSON.stringify it (or join CSV cells). Byte for byte, over batches of
// constant and changing values, nulls, lists and text that needs escaping.

import { describe, expect, test } from "bun:test";
import type { ShownValue } from "../../src/metrics/catalog.ts";
import type { Field } from "../../src/metrics/records.ts";
import { writeRecords, type JsonStyle, type Output, type QueryFormat, type RecordBatch } from "../../src/query/writer.ts";
import { csvLine } from "../../src/util/csv.ts";
import { formatTime } from "../../src/util/time.ts";

function collect(): Output & { text: () => string } {
  const chunks: string[] = [];
  return { write: async (chunk) => void chunks.push(chunk), text: () => chunks.join("") };
}

function groups(batches: RecordBatch[]): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const batch of batches) {
    const times = [...new Set(batch.gpus.flatMap((gpu) => gpu.ts))].sort((a, b) => a - b);
    for (const ts of times) {
      const gpus = batch.gpus
        .filter((gpu) => gpu.ts.includes(ts))
        .map((gpu) => {
          const at = gpu.ts.indexOf(ts);
          return Object.fromEntries(gpu.fields.map((field) => [field.name, "constant" in field ? field.constant : field.show(field.column[at] ?? null)]));
        });
      const group: Record<string, unknown> = { timestamp: formatTime(ts), gpus };
      if (batch.periodSeconds !== undefined) group.period_seconds = batch.periodSeconds;
      out.push(group);
    }
  }
  return out;
}

function expected(batches: RecordBatch[], format: QueryFormat, style: JsonStyle): string {
  const all = groups(batches);
  if (format === "csv") {
    if (all.length === 0) return "";
    const first = (all[0]!.gpus as Array<Record<string, ShownValue>>)[0]!;
    const lines = [csvLine(["timestamp", ...Object.keys(first)])];
    for (const group of all) {
      for (const record of group.gpus as Array<Record<string, ShownValue>>) {
        lines.push(csvLine([group.timestamp as string, ...Object.values(record).map((value) => (Array.isArray(value) ? value.join(";") : (value as string | number | null)))]));
      }
    }
    return lines.join("\n") + "\n";
  }
  if (all.length === 0) return "[]\n";
  const bodies = all.map((group) => (style === "lines" ? JSON.stringify(group) : JSON.stringify(group, null, 2).replaceAll("\n", "\n  ")));
  return `[\n  ${bodies.join(",\n  ")}\n]\n`;
}

/** A seeded generator, so a failure can be replayed. */
function random(seed: number) {
  return () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

const ODD_TEXT = ["plain", 'with "quotes", and a comma', "line\nbreak", "ünïcödé ✓", "tab\there", ""];

function randomBatches(seed: number, windows: boolean): RecordBatch[] {
  const next = random(seed);
  const batches: RecordBatch[] = [];
  let t = 1_767_225_600;
  for (let b = 0; b < 4; b++) {
    const gpus = Array.from({ length: 1 + Math.floor(next() * 3) }, (_, g) => {
      const length = windows ? 1 : 1 + Math.floor(next() * 20);
      const ts = Array.from({ length }, (_, i) => t + i * (1 + (g % 2))); // GPUs with different times
      const fields: Field[] = [
        { name: "uid", constant: `GPU-${g}` },
        { name: "name", constant: ODD_TEXT[Math.floor(next() * ODD_TEXT.length)]! },
        { name: "memory_total", constant: next() < 0.2 ? null : 85_520_809_984 },
      ];
      for (let f = 0; f < 8; f++) {
        const kind = next();
        const column = Array.from({ length }, () => {
          if (kind < 0.3) return 1234; // constant over the batch
          const r = next();
          if (r < 0.15) return null;
          if (r < 0.3) return -Math.floor(next() * 1000);
          if (r < 0.45) return Math.floor(next() * 2 ** 52);
          if (r < 0.6) return next() * 1000;
          return Math.floor(next() * 1000);
        });
        fields.push({ name: `metric_${f}`, column, show: f === 0 ? (v: number | null) => (v === null ? null : v / 1000) : (v: number | null) => v });
      }
      fields.push({
        name: "reasons",
        column: Array.from({ length }, () => (next() < 0.5 ? 0 : 5)),
        show: (mask: number | null) => (mask === null ? null : mask === 0 ? [] : ["gpu_idle", "sw_power_cap"]),
      });
      fields.push({ name: "flag", constant: next() < 0.5 ? true : null });
      return { ts, fields };
    });
    batches.push(windows ? { gpus, periodSeconds: 3600 } : { gpus });
    t += windows ? 3600 : 600;
  }
  return batches;
}

describe("the query writer", () => {
  for (const [format, style] of [
    ["json", "lines"],
    ["json", "indented"],
    ["csv", "lines"],
  ] as const) {
    for (const windows of [false, true]) {
      test(`${format}${format === "json" ? ` (${style})` : ""} of ${windows ? "windows" : "samples"}: what building and printing each group as an object prints`, async () => {
        for (let seed = 1; seed <= 25; seed++) {
          const batches = randomBatches(seed, windows);
          const out = collect();
          const count = await writeRecords(batches, format, out, { style });
          expect(out.text()).toBe(expected(batches, format, style));
          expect(count).toBe(groups(batches).length);
        }
      });
    }
  }

  test("nothing to write: an empty JSON array, and CSV without even a header", async () => {
    for (const [format, text] of [
      ["json", "[]\n"],
      ["csv", ""],
    ] as const) {
      const out = collect();
      expect(await writeRecords([], format, out)).toBe(0);
      expect(out.text()).toBe(text);
    }
  });

  test("a long export reports each batch's last time, for its progress line", async () => {
    const batches = randomBatches(7, false);
    const seen: number[] = [];
    await writeRecords(batches, "json", collect(), { style: "lines", onBatch: (ts) => seen.push(ts) });
    expect(seen).toEqual(batches.map((batch) => Math.max(...batch.gpus.flatMap((gpu) => gpu.ts))));
  });
});
