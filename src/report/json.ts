// The report's figures as one JSON document for other tools: the same numbers
// the page shows, with snake_case names as in the rest of our JSON. Pure.

import type { ReportData } from "./data.ts";
import { formatTime } from "../util/time.ts";

export function renderReportJson(data: ReportData): string {
  return `${JSON.stringify(snakeCase({ ...data, period: { from: formatTime(data.from), to: formatTime(data.to) } }), null, 2)}\n`;
}

function snakeCase(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(snakeCase);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), snakeCase(inner)]));
}
