// Query output: a JSON array of {timestamp, gpus} objects or CSV rows, written
// as rows arrive so an export of any range runs in constant memory.

import { once } from "node:events";
import { csvLine, type CsvValue } from "../cli/format/csv.ts";
import type { OutputRecord } from "./records.ts";
import { formatTime } from "./time.ts";

export type QueryFormat = "json" | "csv";
export const QUERY_FORMATS: readonly QueryFormat[] = ["json", "csv"];

export interface RecordGroup {
  /** Epoch seconds: the sample's time, or the window's start. */
  timestamp: number;
  /** Set for aggregates: the window's length. */
  periodSeconds?: number;
  gpus: OutputRecord[];
}

/** Groups consecutive rows sharing a timestamp. Rows must come ordered by time. */
export function* groupByTime<Row>(
  rows: Iterable<Row>,
  timeOf: (row: Row) => number,
  toRecord: (row: Row) => OutputRecord,
  periodOf?: (row: Row) => number,
): Generator<RecordGroup> {
  let current: RecordGroup | null = null;
  for (const row of rows) {
    const timestamp = timeOf(row);
    if (current && current.timestamp !== timestamp) {
      yield current;
      current = null;
    }
    current ??= periodOf ? { timestamp, periodSeconds: periodOf(row), gpus: [] } : { timestamp, gpus: [] };
    current.gpus.push(toRecord(row));
  }
  if (current) yield current;
}

export interface Output {
  /** Bytes are the writer's buffer, filled again once the promise settles: by then the output must be done with them. */
  write(chunk: string | Uint8Array): Promise<void>;
}

export const stdoutOutput: Output = {
  async write(chunk) {
    if (typeof chunk === "string") {
      if (!process.stdout.write(chunk)) await once(process.stdout, "drain");
      return;
    }
    await new Promise<void>((resolve, reject) => process.stdout.write(chunk, (error) => (error ? reject(error) : resolve())));
  },
};

/**
 * Writes every group; returns how many were written. JSON is indented for
 * people (-sc) or, with `compact`, one group per line (export of long ranges).
 */
export async function writeGroups(
  groups: Iterable<RecordGroup>,
  format: QueryFormat,
  out: Output,
  options: { compact?: boolean } = {},
): Promise<number> {
  const buffered = new BufferedOutput(out);
  const count = format === "json" ? await writeJson(groups, buffered, options.compact ?? false) : await writeCsv(groups, buffered);
  await buffered.flush();
  return count;
}

/** Collects small writes into ~64 KB chunks: one await per chunk, not per row. */
export class BufferedOutput {
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

function groupObject(group: RecordGroup): Record<string, unknown> {
  const object: Record<string, unknown> = { timestamp: formatTime(group.timestamp), gpus: group.gpus };
  if (group.periodSeconds !== undefined) object.period_seconds = group.periodSeconds;
  return object;
}

async function writeJson(groups: Iterable<RecordGroup>, out: Output, compact: boolean): Promise<number> {
  let count = 0;
  for (const group of groups) {
    const body = compact
      ? JSON.stringify(groupObject(group))
      : JSON.stringify(groupObject(group), null, 2).replaceAll("\n", "\n  ");
    await out.write(`${count === 0 ? "[\n  " : ",\n  "}${body}`);
    count++;
  }
  await out.write(count === 0 ? "[]\n" : "\n]\n");
  return count;
}

async function writeCsv(groups: Iterable<RecordGroup>, out: Output): Promise<number> {
  let count = 0;
  let columns: string[] | null = null;
  for (const group of groups) {
    const timestamp = formatTime(group.timestamp);
    for (const record of group.gpus) {
      if (!columns) {
        columns = Object.keys(record);
        await out.write(csvLine(["timestamp", ...columns]) + "\n");
      }
      const cells: CsvValue[] = [timestamp];
      for (const column of columns) cells.push(csvValue(record[column]));
      await out.write(csvLine(cells) + "\n");
    }
    count++;
  }
  return count;
}

/** A record's value as a CSV cell: a list joined with ";". */
export function csvValue(value: OutputRecord[string] | undefined): CsvValue {
  return Array.isArray(value) ? value.join(";") : value;
}
