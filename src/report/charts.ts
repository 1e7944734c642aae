// Inline SVG charts over a report's time axis: lines with a min–max band, daily
// bars, an hour-of-day × day heat map, and the coverage gaps and health marks
// every chart of a device carries. Pure: data in, SVG text out. Coordinates are
// rounded to a tenth and paths written relative, to keep a month of 8 GPUs small.

import type { CoverageGap, HealthMark } from "./data.ts";
import { escapeHtml } from "./text.ts";

const WIDTH = 1000;
const LEFT = 52;
const RIGHT = 10;
const TOP = 18;
const PLOT_WIDTH = WIDTH - LEFT - RIGHT;

export interface TimeAxis {
  from: number;
  to: number;
  /** Local midnights, the first maybe before `from`. */
  days: readonly number[];
}

/** One value per window: the point sits in the window's middle. */
export interface TimePoint {
  start: number;
  periodSeconds: number;
  value: number | null;
}

export interface LineSeries {
  points: readonly TimePoint[];
  /** CSS class: colour and stroke. */
  className: string;
}

export interface BandSeries {
  points: ReadonlyArray<{ start: number; periodSeconds: number; low: number | null; high: number | null }>;
  className: string;
}

export interface TimeChartOptions {
  axis: TimeAxis;
  /** Plot height in SVG units. */
  height: number;
  yMax: number;
  yTicks: readonly number[];
  yUnit: string;
  lines: readonly LineSeries[];
  band?: BandSeries;
  gaps: readonly CoverageGap[];
  marks: readonly HealthMark[];
  /** What the chart shows, for screen readers (its table says it in numbers). */
  label: string;
  /** For the hover script: which of the device's hourly columns this chart shows. */
  hover: string;
}

const BOTTOM = 26;

export function timeChart(options: TimeChartOptions): string {
  const { axis, height, yMax } = options;
  const x = xScale(axis);
  const y = (value: number) => TOP + height - (Math.min(Math.max(value, 0), yMax) / yMax) * height;
  const parts: string[] = [];
  parts.push(`<rect class="plot" x="${LEFT}" y="${TOP}" width="${PLOT_WIDTH}" height="${height}"/>`);
  parts.push(gapRects(options.gaps, x, TOP, height));
  parts.push(dayGrid(axis, x, TOP, height));
  const tickTexts = tickLabels(options.yTicks);
  options.yTicks.forEach((tick, i) => {
    const at = r(y(tick));
    parts.push(`<path class="grid" d="M${LEFT} ${at}h${PLOT_WIDTH}"/><text class="yl" x="${LEFT - 6}" y="${r(at + 4)}">${tickTexts[i]}</text>`);
  });
  parts.push(`<text class="yu" x="${LEFT}" y="${TOP - 5}">${escapeHtml(options.yUnit)}</text>`);
  // The data in hours since the period's start, stretched onto the plot: whole-hour
  // steps write as "1", a third of the bytes of a step in plot units.
  const hours = (t: number) => (t - axis.from) / 3600;
  const stretch = PLOT_WIDTH / Math.max((axis.to - axis.from) / 3600, 1 / 3600);
  parts.push(`<g transform="translate(${LEFT} 0) scale(${stretch.toFixed(5)} 1)">`);
  if (options.band) parts.push(`<path class="${options.band.className}" d="${bandPath(options.band.points, hours, y)}"/>`);
  for (const line of options.lines) parts.push(`<path class="${line.className}" d="${linePath(line.points, hours, y)}"/>`);
  parts.push("</g>");
  // A window alone (no neighbour to draw a line to) is a dot a few units wide, not a speck.
  for (const line of options.lines) {
    for (const point of lonePoints(line.points)) {
      parts.push(`<circle class="${line.className} dot" cx="${r(x(point.start + point.periodSeconds / 2))}" cy="${r(y(point.value))}" r="3"/>`);
    }
  }
  parts.push(healthMarks(options.marks, x, TOP, height));
  parts.push(dayLabels(axis, x, TOP + height + 16));
  parts.push(`<path class="cursor" d="M0 ${TOP}v${height}"/>`);
  return svg(TOP + height + BOTTOM, options.label, parts.join(""), `class="chart" data-hover="${options.hover}"`);
}

export interface DailyBar {
  start: number;
  value: number | null;
}

/** Bars per local day (energy), on the same time axis as the line charts. */
export function dayBars(axis: TimeAxis, bars: readonly DailyBar[], height: number, yMax: number, yTicks: readonly number[], yUnit: string, label: string): string {
  const x = xScale(axis);
  const y = (value: number) => (Math.min(value, yMax) / yMax) * height;
  const parts: string[] = [`<rect class="plot" x="${LEFT}" y="${TOP}" width="${PLOT_WIDTH}" height="${height}"/>`];
  const tickTexts = tickLabels(yTicks);
  yTicks.forEach((tick, i) => {
    const at = r(TOP + height - y(tick));
    parts.push(`<path class="grid" d="M${LEFT} ${at}h${PLOT_WIDTH}"/><text class="yl" x="${LEFT - 6}" y="${r(at + 4)}">${tickTexts[i]}</text>`);
  });
  parts.push(`<text class="yu" x="${LEFT}" y="${TOP - 5}">${escapeHtml(yUnit)}</text>`);
  let d = "";
  bars.forEach((bar, i) => {
    if (bar.value === null || bar.value <= 0) return;
    const left = Math.max(x(bar.start), LEFT);
    const right = Math.min(x(axis.days[i + 1] ?? axis.to), LEFT + PLOT_WIDTH);
    const width = right - left;
    const h = y(bar.value);
    d += `M${r(left + width * 0.12)} ${r(TOP + height)}v${r(-h)}h${r(width * 0.76)}v${r(h)}z`;
  });
  parts.push(`<path class="bar" d="${d}"/>`);
  parts.push(dayLabels(axis, x, TOP + height + 16));
  return svg(TOP + height + BOTTOM, label, parts.join(""), `class="bars"`);
}

/** Colour steps of the heat map, 0–10 % to 90–100 %. */
export const HEAT_STEPS = 10;
const HOUR_HEIGHT = 7;

/** Utilization by local hour of day (rows, 0 at the top) and day (columns). */
export function heatMap(axis: TimeAxis, cells: ReadonlyArray<ReadonlyArray<number | null>>, label: string): string {
  const days = axis.days.length;
  const cellWidth = PLOT_WIDTH / Math.max(days, 1);
  const height = 24 * HOUR_HEIGHT;
  const paths: string[] = Array.from({ length: HEAT_STEPS }, () => "");
  cells.forEach((row, day) => {
    row.forEach((value, hour) => {
      if (value === null) return;
      const step = Math.min(HEAT_STEPS - 1, Math.floor(value / (100 / HEAT_STEPS)));
      paths[step] += `M${r(LEFT + day * cellWidth)} ${TOP + hour * HOUR_HEIGHT}h${r(cellWidth)}v${HOUR_HEIGHT}h${r(-cellWidth)}z`;
    });
  });
  const parts: string[] = [`<rect class="nodata" x="${LEFT}" y="${TOP}" width="${PLOT_WIDTH}" height="${height}"/>`];
  paths.forEach((d, step) => {
    if (d) parts.push(`<path class="h${step}" d="${d}"/>`);
  });
  for (const hour of [0, 6, 12, 18]) {
    parts.push(`<text class="yl" x="${LEFT - 6}" y="${TOP + hour * HOUR_HEIGHT + HOUR_HEIGHT}">${String(hour).padStart(2, "0")}:00</text>`);
  }
  const every = labelEvery(days);
  axis.days.forEach((day, i) => {
    if (i % every !== 0) return;
    parts.push(`<text class="xl" x="${r(LEFT + (i + 0.5) * cellWidth)}" y="${TOP + height + 16}">${dayLabel(day)}</text>`);
  });
  parts.push(`<rect class="cell" x="0" y="0" width="0" height="${HOUR_HEIGHT}"/>`);
  return svg(TOP + height + BOTTOM, label, parts.join(""), `class="heat" data-days="${days}"`);
}

/** A legend for the heat map's steps. */
export function heatLegend(): string {
  const swatches = Array.from({ length: HEAT_STEPS }, (_, step) => `<span class="sw h${step}"></span>`).join("");
  return `<p class="legend">0 % ${swatches} 100 % <span class="sw nodata"></span> no samples</p>`;
}

export interface OwnerBar {
  name: string;
  gpuHours: number;
  energyKwh: number | null;
}

const OWNER_ROWS = 12;
const NAME_WIDTH = 200;

/**
 * Horizontal bars of GPU-hours and, under each, energy, for the owners using the
 * most (the rest are in the table beside); each measure scaled to its own largest.
 */
export function ownerBars(owners: readonly OwnerBar[], label: string): string {
  const shown = owners.slice(0, OWNER_ROWS);
  const rowHeight = 26;
  const barsLeft = NAME_WIDTH + 8;
  const barsWidth = WIDTH - barsLeft - 190;
  const maxHours = Math.max(...shown.map((o) => o.gpuHours), 1e-9);
  const maxEnergy = Math.max(...shown.map((o) => o.energyKwh ?? 0), 1e-9);
  let hours = "";
  let energy = "";
  const texts: string[] = [];
  shown.forEach((owner, i) => {
    const top = TOP + i * rowHeight;
    const hoursWidth = (owner.gpuHours / maxHours) * barsWidth;
    const energyWidth = ((owner.energyKwh ?? 0) / maxEnergy) * barsWidth;
    hours += `M${barsLeft} ${top}h${r(Math.max(hoursWidth, 0.5))}v10h${r(-Math.max(hoursWidth, 0.5))}z`;
    if (owner.energyKwh !== null) energy += `M${barsLeft} ${top + 11}h${r(Math.max(energyWidth, 0.5))}v8h${r(-Math.max(energyWidth, 0.5))}z`;
    const name = shortName(owner.name);
    const text = `<text class="yl" x="${NAME_WIDTH}" y="${top + 14}">${escapeHtml(name)}</text>`;
    texts.push(name === owner.name ? text : `<g><title>${escapeHtml(owner.name)}</title>${text}</g>`);
    texts.push(`<text x="${r(barsLeft + Math.max(hoursWidth, energyWidth) + 6)}" y="${top + 14}">${owner.gpuHours.toFixed(1)} h${owner.energyKwh === null ? "" : ` · ${owner.energyKwh.toFixed(1)} kWh`}</text>`);
  });
  const more = owners.length > shown.length ? `<text x="${barsLeft}" y="${TOP + shown.length * rowHeight + 14}">and ${owners.length - shown.length} more in the table</text>` : "";
  const height = TOP + shown.length * rowHeight + (more ? 22 : 4);
  return svg(height, label, `<path class="ownerhours" d="${hours}"/><path class="bar" d="${energy}"/>${texts.join("")}${more}`, `class="owners"`);
}

/**
 * A name that fits left of the bars: a 64-hex container id as its first 12 (as
 * docker ps shows it); others cut, with an ellipsis, where their width (as
 * estimated, on the wide side) would pass the room there is.
 */
export function shortName(name: string): string {
  if (/^[0-9a-f]{64}$/.test(name)) return name.slice(0, 12);
  const budget = NAME_WIDTH - NAME_MARGIN;
  const chars = [...name];
  if (textWidth(chars) <= budget) return name;
  const ellipsis = textWidth(["…"]);
  let width = 0;
  let kept = 0;
  while (kept < chars.length && width + charWidth(chars[kept]!) + ellipsis <= budget) width += charWidth(chars[kept++]!);
  return `${chars.slice(0, kept).join("")}…`;
}

/** Room kept free at the SVG's left edge, in user units. */
const NAME_MARGIN = 6;
/** The font size of chart text (svg{font-size} in the style), in user units. */
const FONT_SIZE = 13;

function textWidth(chars: readonly string[]): number {
  return chars.reduce((sum, c) => sum + charWidth(c), 0);
}

/** A character's width in user units, estimated generously for a sans-serif face (wide and East Asian glyphs a full em). */
function charWidth(c: string): number {
  const code = c.codePointAt(0)!;
  if (code >= 0x1100) return FONT_SIZE * 1.05;
  if ("iljtfrI.,:;'|!()[] ".includes(c)) return FONT_SIZE * 0.4;
  if ("mwMW@%&".includes(c)) return FONT_SIZE * 0.95;
  if (c >= "A" && c <= "Z") return FONT_SIZE * 0.75;
  return FONT_SIZE * 0.62;
}

/** A strip of coverage and health marks alone: for the host, and the top of each device. */
export function timeStrip(axis: TimeAxis, gaps: readonly CoverageGap[], marks: readonly HealthMark[], label: string): string {
  const x = xScale(axis);
  const height = 22;
  const parts = [`<rect class="plot ok" x="${LEFT}" y="${TOP}" width="${PLOT_WIDTH}" height="${height}"/>`, gapRects(gaps, x, TOP, height), dayGrid(axis, x, TOP, height), healthMarks(marks, x, TOP, height), dayLabels(axis, x, TOP + height + 16)];
  return svg(TOP + height + BOTTOM, label, parts.join(""), `class="strip"`);
}

/** Chart colours named for the legend under a chart. */
export function lineLegend(items: ReadonlyArray<readonly [string, string]>): string {
  return `<p class="legend">${items.map(([className, text]) => `<span class="sw ${className}"></span> ${escapeHtml(text)}`).join(" ")}</p>`;
}

function svg(height: number, label: string, body: string, attributes: string): string {
  return `<svg ${attributes} viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="${escapeHtml(label)}">${body}</svg>`;
}

function xScale(axis: TimeAxis): (t: number) => number {
  const span = Math.max(axis.to - axis.from, 1);
  return (t) => LEFT + ((t - axis.from) / span) * PLOT_WIDTH;
}

/** A line through the windows' middles, broken where a window is missing or has no value. */
function linePath(points: readonly TimePoint[], x: (t: number) => number, y: (v: number) => number): string {
  const path = new RelativePath();
  let previousEnd: number | null = null;
  let run = 0;
  // A lone point is drawn as a dot: a zero-length line with round caps.
  const endRun = () => {
    if (run === 1) path.stay();
    run = 0;
  };
  for (const point of points) {
    if (point.value === null) {
      previousEnd = null;
      continue;
    }
    const px = x(point.start + point.periodSeconds / 2);
    const py = y(point.value);
    if (previousEnd === point.start) path.lineTo(px, py);
    else {
      endRun();
      path.moveTo(px, py);
    }
    run++;
    previousEnd = point.start + point.periodSeconds;
  }
  endRun();
  return path.text();
}

/** The points with a value whose neighbours (the windows just before and after) have none. */
function lonePoints(points: readonly TimePoint[]): Array<TimePoint & { value: number }> {
  const lone: Array<TimePoint & { value: number }> = [];
  points.forEach((point, i) => {
    if (point.value === null) return;
    const before = points[i - 1];
    const after = points[i + 1];
    const joinedBefore = before !== undefined && before.value !== null && before.start + before.periodSeconds === point.start;
    const joinedAfter = after !== undefined && after.value !== null && point.start + point.periodSeconds === after.start;
    if (!joinedBefore && !joinedAfter) lone.push(point as TimePoint & { value: number });
  });
  return lone;
}

/** The area between low and high, one closed shape per run of adjacent windows. */
function bandPath(points: BandSeries["points"], x: (t: number) => number, y: (v: number) => number): string {
  const path = new RelativePath();
  let run: Array<{ x: number; low: number; high: number }> = [];
  const flush = () => {
    if (run.length === 0) return;
    if (run.length === 1) run = [{ ...run[0]!, x: run[0]!.x - 0.5 }, { ...run[0]!, x: run[0]!.x + 0.5 }];
    path.moveTo(run[0]!.x, y(run[0]!.high));
    for (const point of run.slice(1)) path.lineTo(point.x, y(point.high));
    for (const point of run.toReversed()) path.lineTo(point.x, y(point.low));
    path.close();
    run = [];
  };
  let previousEnd: number | null = null;
  for (const point of points) {
    if (point.low === null || point.high === null) {
      flush();
      previousEnd = null;
      continue;
    }
    if (previousEnd !== point.start) flush();
    run.push({ x: x(point.start + point.periodSeconds / 2), low: point.low, high: point.high });
    previousEnd = point.start + point.periodSeconds;
  }
  flush();
  return path.text();
}

/**
 * Path text with relative steps between rounded points (x to a tenth, y whole: a
 * plot is ~120 units high), so a month of hours stays a few kilobytes.
 */
class RelativePath {
  private text_ = "";
  private at: [number, number] | null = null;
  private subpathStart: [number, number] | null = null;
  /** After a line step the next needs no command letter: "l1.3-1 1.3 2". */
  private drawing = false;

  moveTo(x: number, y: number): void {
    const [rx, ry] = [r(x), Math.round(y)];
    this.text_ += this.at ? `m${pair(rx - this.at[0], ry - this.at[1])}` : `M${pair(rx, ry)}`;
    this.at = [rx, ry];
    this.subpathStart = this.at;
    this.drawing = false;
  }

  lineTo(x: number, y: number): void {
    const [rx, ry] = [r(x), Math.round(y)];
    const step = pair(rx - this.at![0], ry - this.at![1]);
    this.text_ += this.drawing ? (step.startsWith("-") ? step : ` ${step}`) : `l${step}`;
    this.at = [rx, ry];
    this.drawing = true;
  }

  /** A step of nothing: with round caps, a dot where the pen is. */
  stay(): void {
    this.text_ += this.drawing ? " 0 0" : "l0 0";
    this.drawing = true;
  }

  /** Closing returns the pen to where the shape began. */
  close(): void {
    this.text_ += "z";
    this.at = this.subpathStart;
    this.drawing = false;
  }

  text(): string {
    return this.text_;
  }
}

/** Two coordinates as short as SVG reads them: "1.3-1", "1.3 2". */
function pair(a: number, b: number): string {
  const second = num(b);
  return `${num(a)}${second.startsWith("-") ? "" : " "}${second}`;
}

function gapRects(gaps: readonly CoverageGap[], x: (t: number) => number, top: number, height: number): string {
  let missing = "";
  let partial = "";
  // Clipped to the plot: a gap may begin before the stretch drawn.
  for (const gap of gaps) {
    const left = Math.max(x(gap.from), LEFT);
    const right = Math.min(x(gap.to), LEFT + PLOT_WIDTH);
    if (right < LEFT || left > LEFT + PLOT_WIDTH) continue;
    const width = Math.max(right - left, 0.6);
    const d = `M${r(left)} ${top}h${r(width)}v${height}h${r(-width)}z`;
    if (gap.kind === "missing") missing += d;
    else partial += d;
  }
  return (missing ? `<path class="gap" d="${missing}"/>` : "") + (partial ? `<path class="partial" d="${partial}"/>` : "");
}

/** A tick and a triangle per event, with its text as a tooltip (no script needed). */
function healthMarks(marks: readonly HealthMark[], x: (t: number) => number, top: number, height: number): string {
  return marks
    .filter((mark) => x(mark.ts) >= LEFT && x(mark.ts) <= LEFT + PLOT_WIDTH)
    .map((mark) => {
      const at = r(x(mark.ts));
      return `<g class="mark ${mark.kind}"><title>${escapeHtml(`${mark.text}`)}</title><path d="M${at} ${top}v${height}"/><path class="tip" d="M${r(at - 5)} ${top - 2}h10l-5 8z"/></g>`;
    })
    .join("");
}

function dayGrid(axis: TimeAxis, x: (t: number) => number, top: number, height: number): string {
  let d = "";
  for (const day of axis.days) {
    if (day <= axis.from) continue;
    d += `M${r(x(day))} ${top}v${height}`;
  }
  return d ? `<path class="day" d="${d}"/>` : "";
}

function dayLabels(axis: TimeAxis, x: (t: number) => number, at: number): string {
  const every = labelEvery(axis.days.length);
  return axis.days
    .map((day, i) => {
      if (i % every !== 0) return "";
      const next = axis.days[i + 1] ?? axis.to;
      const middle = x((Math.max(day, axis.from) + Math.min(next, axis.to)) / 2);
      return `<text class="xl" x="${r(middle)}" y="${at}">${dayLabel(day)}</text>`;
    })
    .join("");
}

/** A label on every day up to two weeks, then every second or more so they never overlap. */
function labelEvery(days: number): number {
  return days <= 16 ? 1 : Math.ceil(days / 16);
}

function dayLabel(day: number): string {
  const date = new Date(day * 1000);
  return `${String(date.getMonth() + 1).padStart(2, "0")}-${String(date.getDate()).padStart(2, "0")}`;
}

/**
 * Tick labels with as many decimals as the step between ticks needs (0.25 steps
 * as 0.25, 0.50, ...; 0.02 steps as 0.02, 0.04, ...), so no two read the same.
 */
export function tickLabels(ticks: readonly number[]): string[] {
  const step = ticks.length > 1 ? Math.abs(ticks[1]! - ticks[0]!) : 1;
  let decimals = 0;
  while (decimals < 6 && Math.abs(Math.round(step * 10 ** decimals) - step * 10 ** decimals) > 1e-6 * 10 ** decimals) decimals++;
  return ticks.map((tick) => tick.toFixed(decimals));
}

/** A round scale for values up to `max`: its top and four or five ticks. */
export function niceScale(max: number | null, floor = 1): { yMax: number; ticks: number[] } {
  const top = Math.max(max ?? 0, floor);
  const rough = top / 4;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= rough)!;
  const yMax = Math.ceil(top / step) * step;
  const ticks: number[] = [];
  for (let i = 0; i * step <= yMax + step / 1000; i++) ticks.push(Number((i * step).toPrecision(12)));
  return { yMax, ticks };
}

function r(value: number): number {
  return Math.round(value * 10) / 10;
}

/** A number as short as SVG takes it: 0.5 as .5, -0.5 as -.5. */
function num(value: number): string {
  const rounded = Math.round(value * 10) / 10;
  const text = String(rounded === 0 ? 0 : rounded);
  return text.startsWith("0.") ? text.slice(1) : text.startsWith("-0.") ? `-${text.slice(2)}` : text;
}

/** Where the plot sits in every chart's viewBox: the hover script maps the mouse back through it. */
export const CHART_GEOMETRY = { left: LEFT, top: TOP, plotWidth: PLOT_WIDTH, hourHeight: HOUR_HEIGHT } as const;
