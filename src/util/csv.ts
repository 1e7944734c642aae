// RFC 4180 CSV: CRLF-free lines (one \n per row, as the original tool printed),
// fields quoted when they hold a comma or quote; quotes doubled. Control
// characters (CR and LF too) are escaped, so a row is one line on a terminal.

import { escapeControl } from "./text.ts";

export type CsvValue = string | number | boolean | null | undefined;

const NEEDS_QUOTES = /[",]/;

export function csvField(value: CsvValue): string {
  if (value === null || value === undefined) return "";
  if (typeof value !== "string") return String(value); // numbers and booleans never need quotes
  const safe = escapeControl(value);
  return NEEDS_QUOTES.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

export function csvLine(values: readonly CsvValue[]): string {
  let line = "";
  for (let i = 0; i < values.length; i++) line += (i === 0 ? "" : ",") + csvField(values[i]);
  return line;
}

export function toCsv(header: readonly string[], rows: ReadonlyArray<readonly CsvValue[]>): string {
  return [csvLine(header), ...rows.map(csvLine)].join("\n") + "\n";
}
