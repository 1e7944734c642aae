// `snapshot --watch` on a terminal: the frame drawn over the previous one, as
// `watch nvidia-smi` does, with utilization as bars. Pure: text in, text out.

const HOME = "\x1b[H";
const CLEAR_SCREEN = "\x1b[2J";
const CLEAR_TO_LINE_END = "\x1b[K";
const CLEAR_TO_SCREEN_END = "\x1b[J";

/**
 * `text` drawn from the top-left corner over what is there: each line clears its
 * rest (a shorter value leaves no digits of a longer one), then the rest of the
 * screen is cleared (a GPU gone leaves no row). The first frame clears the screen.
 */
export function redrawFrame(text: string, first: boolean): string {
  const lines = text.replace(/\n$/, "").split("\n");
  return `${first ? CLEAR_SCREEN : ""}${HOME}${lines.map((line) => `${line}${CLEAR_TO_LINE_END}`).join("\n")}\n${CLEAR_TO_SCREEN_END}`;
}

/** `[|||||     ]  48%`: a share of `width` cells, rounded, then the figure; N/A when unknown. */
export function utilizationBar(percent: number | null, width = 10): string {
  if (percent === null) return `[${" ".repeat(width)}]  N/A`;
  const filled = Math.min(width, Math.max(0, Math.round((percent / 100) * width)));
  return `[${"|".repeat(filled)}${" ".repeat(width - filled)}] ${String(Math.round(percent)).padStart(3)}%`;
}

/** The line above the table (whose own first line says when it was read). */
export function watchHeader(intervalSeconds: number): string {
  return `Every ${intervalSeconds} s: gpu_monitor snapshot (Ctrl-C to quit)`;
}
