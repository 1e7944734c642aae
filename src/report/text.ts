// Text into HTML, and the figures and times a report prints. Pure.

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text safe inside an element or a quoted attribute. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** A figure with fixed decimals, or an em dash for none. */
export function figure(value: number | null | undefined, digits = 0): string {
  return value === null || value === undefined ? "—" : value.toFixed(digits);
}

/** A share (0 to 1) as a percentage with one decimal. */
export function percent(share: number): string {
  return `${(share * 100).toFixed(1)} %`;
}

const pad = (n: number) => String(n).padStart(2, "0");

/** Local date and time to the minute: 2026-11-03 14:00. */
export function localMinute(epochSeconds: number): string {
  const date = new Date(epochSeconds * 1000);
  return `${localDay(epochSeconds)} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** Local date: 2026-11-03. */
export function localDay(epochSeconds: number): string {
  const date = new Date(epochSeconds * 1000);
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** Local weekday and date: Tue 11-03. */
export function shortDay(epochSeconds: number): string {
  const date = new Date(epochSeconds * 1000);
  return `${["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][date.getDay()]} ${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}
