// Plain aligned columns for people. Numbers align right, text left. Cells are
// escaped: a name holding control characters cannot redraw the terminal. Widths are
// terminal columns, not characters: a CJK character or an emoji takes two.

import { escapeControl } from "../../util/text.ts";

export interface Column {
  header: string;
  align?: "left" | "right";
}

export function renderTable(columns: readonly Column[], unsafeRows: ReadonlyArray<readonly string[]>): string {
  const rows = unsafeRows.map((row) => row.map(escapeControl));
  const widths = columns.map((column, i) =>
    Math.max(displayWidth(column.header), ...rows.map((row) => displayWidth(row[i] ?? ""))),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (columns[i]?.align === "right" ? padStart(cell, widths[i]!) : padEnd(cell, widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(columns.map((column) => column.header)), ...rows.map(line)].join("\n") + "\n";
}

export function displayWidth(text: string): number {
  return Bun.stringWidth(text);
}

function padEnd(text: string, width: number): string {
  return text + " ".repeat(Math.max(0, width - displayWidth(text)));
}

function padStart(text: string, width: number): string {
  return " ".repeat(Math.max(0, width - displayWidth(text))) + text;
}
