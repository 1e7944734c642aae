// The one writer of query output: records grouped by time, as a JSON array of
// {timestamp, gpus} objects (indented for people, or one group per line for
// exports) or as CSV rows. Streams batch by batch, so an export of any range
// runs in constant memory.
//
// A batch is one GPU's run of records at a time (a 10-minute span of samples, a
// window). Each GPU's record is turned into a template once per batch: the text of
// every field whose value does not change over the batch (its identity, often
// most clocks and limits) is written into it, so a record costs only its values.

import { once } from "node:events";
import { AS_STORED, type ShownValue } from "../metrics/catalog.ts";
import type { Field } from "../metrics/records.ts";
import { csvField, csvLine } from "../util/csv.ts";
import { formatTime } from "../util/time.ts";

export type QueryFormat = "json" | "csv";
export const QUERY_FORMATS: readonly QueryFormat[] = ["json", "csv"];

/** Indented JSON for a person at a terminal (-sc), or one group per line (export). */
export type JsonStyle = "indented" | "lines";

/** One GPU's records in a batch: one per time, ascending. */
export interface GpuRecords {
  ts: readonly number[];
  fields: readonly Field[];
}

export interface RecordBatch {
  /** Ordered by GPU: a group lists its GPUs in this order. */
  gpus: readonly GpuRecords[];
  /** Set for windows: their length, after `gpus` in each group. */
  periodSeconds?: number;
}

export interface Output {
  write(chunk: string): Promise<void>;
}

export const stdoutOutput: Output = {
  async write(chunk) {
    if (!process.stdout.write(chunk)) await once(process.stdout, "drain");
  },
};

/** How a format writes a record and its values. */
interface Syntax {
  /** How a null is written. */
  nothing: string;
  open: string;
  key: (name: string) => string;
  separator: string;
  close: string;
  value: (value: ShownValue) => string;
}

/** Lists come one frozen list per value (a mask's reason names), so their text is kept per list. */
const listText = new WeakMap<object, string>();

function jsonText(value: ShownValue): string {
  if (value === null) return "null";
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "null";
  if (typeof value !== "object") return JSON.stringify(value);
  let text = listText.get(value);
  if (text === undefined) listText.set(value, (text = JSON.stringify(value)));
  return text;
}

const SYNTAX: Record<JsonStyle | "csv", Syntax> = {
  lines: { nothing: "null", open: "{", key: (name) => `${JSON.stringify(name)}:`, separator: ",", close: "}", value: jsonText },
  indented: {
    nothing: "null",
    open: "{\n        ",
    key: (name) => `${JSON.stringify(name)}: `,
    separator: ",\n        ",
    close: "\n      }",
    value: (value) => (Array.isArray(value) ? JSON.stringify(value, null, 2).replaceAll("\n", "\n        ") : jsonText(value)),
  },
  csv: {
    nothing: "",
    open: "",
    key: () => "",
    separator: ",",
    close: "",
    value: (value) => (value === null ? "" : typeof value === "number" ? String(value) : csvField(csvText(value))),
  },
};

/** A list of plain values joins with ';' (as the original tool did); objects are JSON. */
function csvText(value: Exclude<ShownValue, null | number>): string {
  if (typeof value !== "object") return String(value);
  if (Array.isArray(value) && value.every((item) => typeof item !== "object")) return value.join(";");
  return JSON.stringify(value);
}

/** One GPU's record over a batch: fixed text around the values that change. */
class Template {
  readonly pieces: string[] = [];
  readonly columns: Array<ReadonlyArray<number | null>> = [];
  readonly shows: Array<(stored: any) => ShownValue> = [];
  /** Per changing field: shown as stored, so a number is written straight away. */
  readonly asStored: boolean[] = [];

  constructor(
    fields: readonly Field[],
    count: number,
    private readonly syntax: Syntax,
  ) {
    let text = syntax.open;
    fields.forEach((field, i) => {
      text += (i === 0 ? "" : syntax.separator) + syntax.key(field.name);
      if ("constant" in field) text += syntax.value(field.constant);
      else if (isConstant(field.column, count)) text += syntax.value(field.show(field.column[0] ?? null));
      else {
        this.pieces.push(text);
        this.columns.push(field.column);
        this.shows.push(field.show);
        this.asStored.push(field.show === AS_STORED);
        text = "";
      }
    });
    this.pieces.push(text + syntax.close);
  }

  record(at: number): string {
    const { value, nothing } = this.syntax;
    let text = this.pieces[0]!;
    for (let f = 0; f < this.columns.length; f++) {
      const stored = this.columns[f]![at]!;
      // A finite number shown as stored is its digits in every format (stored - stored is NaN for the others).
      const shown = stored === null ? nothing : this.asStored[f] && stored - stored === 0 ? String(stored) : value(this.shows[f]!(stored));
      text += shown + this.pieces[f + 1]!;
    }
    return text;
  }
}

function isConstant(column: ReadonlyArray<number | null>, count: number): boolean {
  const first = column[0];
  for (let i = 1; i < count; i++) if (column[i] !== first) return false;
  return true;
}

/**
 * Writes every batch; returns how many groups (timestamps) were written.
 * `onBatch` hears the last time of each batch written (for a progress line).
 * `columns` names the fields for a CSV header when there is no record to take
 * them from: a CSV of nothing is still a header a program can read.
 */
export async function writeRecords(
  batches: Iterable<RecordBatch>,
  format: QueryFormat,
  out: Output,
  options: { style?: JsonStyle; onBatch?: (lastTs: number) => void; columns?: readonly string[] } = {},
): Promise<number> {
  const style = options.style ?? "indented";
  const syntax = SYNTAX[format === "json" ? style : "csv"];
  const buffer = new Buffered(out);
  let groups = 0;
  let header = false;
  for (const batch of batches) {
    const templates = batch.gpus.map((gpu) => new Template(gpu.fields, gpu.ts.length, syntax));
    if (format === "csv" && !header && batch.gpus.length > 0) {
      await buffer.write(`${csvLine(["timestamp", ...batch.gpus[0]!.fields.map((field) => field.name)])}\n`);
      header = true;
    }
    const heads = new Array<number>(batch.gpus.length).fill(0);
    let lastTs = -Infinity;
    for (;;) {
      let ts = Infinity;
      for (let g = 0; g < batch.gpus.length; g++) {
        const time = batch.gpus[g]!.ts[heads[g]!];
        if (time !== undefined && time < ts) ts = time;
      }
      if (ts === Infinity) break;
      const records: string[] = [];
      for (let g = 0; g < batch.gpus.length; g++) {
        if (batch.gpus[g]!.ts[heads[g]!] === ts) records.push(templates[g]!.record(heads[g]!++));
      }
      await buffer.write(group(format, style, groups, formatTime(ts), records, batch.periodSeconds));
      groups++;
      lastTs = ts;
    }
    options.onBatch?.(lastTs);
  }
  if (format === "json") await buffer.write(groups === 0 ? "[]\n" : "\n]\n");
  if (format === "csv" && !header && options.columns) await buffer.write(`${csvLine(["timestamp", ...options.columns])}\n`);
  await buffer.flush();
  return groups;
}

function group(format: QueryFormat, style: JsonStyle, index: number, timestamp: string, records: string[], periodSeconds?: number): string {
  if (format === "csv") return records.map((record) => `${timestamp},${record}\n`).join("");
  const start = index === 0 ? "[\n  " : ",\n  ";
  const period = periodSeconds === undefined ? "" : style === "lines" ? `,"period_seconds":${periodSeconds}` : `,\n    "period_seconds": ${periodSeconds}`;
  if (style === "lines") return `${start}{"timestamp":${JSON.stringify(timestamp)},"gpus":[${records.join(",")}]${period}}`;
  return `${start}{\n    "timestamp": ${JSON.stringify(timestamp)},\n    "gpus": [\n      ${records.join(",\n      ")}\n    ]${period}\n  }`;
}

/** Collects small writes into ~64 KB chunks: one await per chunk, not per record. */
class Buffered {
  private pending = "";
  constructor(private readonly out: Output) {}
  async write(text: string): Promise<void> {
    this.pending += text;
    if (this.pending.length >= 65_536) await this.flush();
  }
  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const chunk = this.pending;
    this.pending = "";
    await this.out.write(chunk);
  }
}
