// RFC 4180 CSV: CRLF-free lines (one \n per row, as the original tool printed),
// fields quoted when they hold a comma, quote, CR or LF; quotes doubled.

export type CsvValue = string | number | boolean | null | undefined;

export function csvField(value: CsvValue): string {
  if (value === null || value === undefined) return "";
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvLine(values: readonly CsvValue[]): string {
  return values.map(csvField).join(",");
}

export function toCsv(header: readonly string[], rows: ReadonlyArray<readonly CsvValue[]>): string {
  return [csvLine(header), ...rows.map(csvLine)].join("\n") + "\n";
}
