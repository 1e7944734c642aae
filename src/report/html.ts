// The report as one self-contained HTML page: the header's figures, per device
// its charts with a table beside each, the delivery ledger. Nothing is fetched
// from anywhere (a Content-Security-Policy says so to the browser too); the one
// inline script only adds hover details. Pure: report data in, HTML text out.

import { createHash } from "node:crypto";
import { SCRIPT, STYLE } from "./assets.ts";
import { CHART_GEOMETRY, dayBars, ownerBars, heatLegend, heatMap, lineLegend, niceScale, timeChart, timeStrip, type TimeAxis } from "./charts.ts";
import type { Attribution, CoverageGap, DeviceReport, HealthMark, ReportData } from "./data.ts";
import { escapeHtml, figure, localDay, localMinute, percent, shortDay } from "./text.ts";

const LINE_HEIGHT = 120;

/** The hourly table's columns, in order; a chart's data-hover names the ones it shows. */
const HOURLY_COLUMNS = [
  "Window",
  "Utilization %",
  "Min %",
  "Max %",
  "Memory GiB",
  "Memory max GiB",
  "Power W",
  "Power max W",
  "Energy Wh",
  "Temp °C",
  "Temp max °C",
  "Coverage %",
  "XIDs",
] as const;
const COLUMN = Object.fromEntries(HOURLY_COLUMNS.map((name, i) => [name, i])) as Record<(typeof HOURLY_COLUMNS)[number], number>;

export function renderReportHtml(data: ReportData): string {
  const axis: TimeAxis = { from: data.shown.from, to: data.shown.to, days: data.days };
  const title = `GPU usage on ${data.host}, ${dayOrMinute(data.from)} to ${dayOrMinute(data.to)}`;
  const csp = [
    "default-src 'none'",
    `style-src '${sha256(STYLE)}'`,
    `script-src '${sha256(SCRIPT)}'`,
    "img-src data:",
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
  const geometry = [CHART_GEOMETRY.left, CHART_GEOMETRY.top, CHART_GEOMETRY.plotWidth, CHART_GEOMETRY.hourHeight].join(",");
  return [
    "<!doctype html>",
    `<html lang="en"><head><meta charset="utf-8">`,
    `<meta http-equiv="Content-Security-Policy" content="${csp}">`,
    `<meta name="viewport" content="width=device-width,initial-scale=1"><meta name="color-scheme" content="light dark">`,
    `<meta name="generator" content="gpu_monitor ${escapeHtml(data.agentVersion)}">`,
    `<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>`,
    `<body data-from="${data.shown.from}" data-to="${data.shown.to}" data-geometry="${geometry}">`,
    header(data, title),
    nav(data),
    devicesSummary(data),
    hostSection(data, axis),
    ...data.devices.map((device) => deviceSection(device, axis, data)),
    attributionSection(data),
    uploadsSection(data),
    `<footer class="muted"><p>Made by gpu_monitor ${escapeHtml(data.agentVersion)} at ${localMinute(data.generatedAt)} from the windows stored on ${escapeHtml(data.host)}.</p></footer>`,
    `<script>${SCRIPT}</script>`,
    "</body></html>",
    "",
  ].join("\n");
}

/** A local date where the time is midnight, else the date and time. */
function dayOrMinute(epochSeconds: number): string {
  const minute = localMinute(epochSeconds);
  return minute.endsWith(" 00:00") ? localDay(epochSeconds) : minute;
}

function sha256(text: string): string {
  return `sha256-${createHash("sha256").update(text).digest("base64")}`;
}

function header(data: ReportData, title: string): string {
  const t = data.totals;
  const u = data.uploads;
  const models = new Map<string, number>();
  for (const device of data.devices) {
    if (device.parentUid === null) models.set(device.name ?? "unknown model", (models.get(device.name ?? "unknown model") ?? 0) + 1);
  }
  const migDevices = t.migDevices > 0 ? `, with ${t.migDevices} MIG device${t.migDevices === 1 ? "" : "s"}` : "";
  const gpus = data.devices.length === 0 ? "none in this period" : [...models].map(([name, n]) => `${n} × ${escapeHtml(name)}`).join(", ") + migDevices;
  const openNote =
    data.openWindows.count > 0 && data.openWindows.from !== null
      ? `<p class="muted" id="open-windows">${data.openWindows.count} window(s) from ${localMinute(data.openWindows.from)} on are not aggregated yet: read from raw samples, they are in the charts and tables (in italics) but not in the figures below.</p>`
      : "";
  const uploads = u.configured
    ? `${u.delivered} delivered · ${u.pending} pending · ${u.failed} failed`
    : `${u.delivered} delivered · ${u.pending} pending · ${u.failed} failed <span class="muted">(no server configured)</span>`;
  const line = (key: string, name: string, value: number | null, shown: string) =>
    `<div data-key="${key}" data-value="${value ?? ""}"><dt>${name}</dt><dd>${shown}</dd></div>`;
  return [
    `<header><h1>${escapeHtml(title)}</h1>`,
    `<dl class="facts">`,
    `<div><dt>Host</dt><dd>${escapeHtml(data.host)}</dd></div>`,
    `<div><dt>Driver</dt><dd>${escapeHtml(data.driverVersion ?? "unknown")}</dd></div>`,
    `<div><dt>Period</dt><dd>${localMinute(data.from)} to ${localMinute(data.to)}, local time ${escapeHtml(data.timeZone)}</dd></div>`,
    `<div><dt>GPUs</dt><dd>${gpus}</dd></div>`,
    `</dl>`,
    openNote,
    `<dl class="totals">`,
    line("gpu_hours", "GPU-hours present", t.gpuHours, `${figure(t.gpuHours, 2)} h`),
    line("busy_gpu_hours", "Busy GPU-hours", t.busyGpuHours, t.busyGpuHours === null ? "—" : `${figure(t.busyGpuHours, 2)} h`),
    line("utilization_average", "Average utilization", t.utilizationAverage, t.utilizationAverage === null ? "—" : `${figure(t.utilizationAverage, 2)} %`),
    line("energy_kwh", "Energy", t.energyKwh, t.energyKwh === null ? "—" : `${figure(t.energyKwh, 3)} kWh`),
    line(
      "coverage",
      "Coverage",
      t.coverage,
      `${percent(t.coverage)} of the period with samples <span class="muted">(${percent(t.deviceCoverage)} of GPU-time)</span>`,
    ),
    `<div data-key="uploads" data-value="${u.delivered},${u.pending},${u.failed}"><dt>Uploads</dt><dd>${uploads}</dd></div>`,
    `</dl></header>`,
  ].join("\n");
}

function nav(data: ReportData): string {
  if (data.devices.length === 0) return "";
  const links = data.devices.filter((device) => device.parentUid === null).map((device) => `<a href="#${device.anchor}">${escapeHtml(device.label)}</a>`);
  return `<nav>${[...links, `<a href="#attribution">Users</a>`, `<a href="#uploads">Uploads</a>`].join("")}</nav>`;
}

function devicesSummary(data: ReportData): string {
  if (data.devices.length === 0) {
    return `<section id="devices"><h2>GPUs</h2><p class="empty">No windows were stored in this period: no GPU was monitored between ${localMinute(data.from)} and ${localMinute(data.to)}.</p></section>`;
  }
  const rows = data.devices.map((device) => {
    const u = device.usage;
    return `<tr${device.parentUid === null ? "" : ' class="mig"'}><td><a href="#${device.anchor}">${escapeHtml(device.label)}</a><td>${escapeHtml(device.name ?? "—")}<td>${figure(u ? u.gpuSeconds / 3600 : null, 2)}<td>${figure(u?.busySeconds == null ? null : u.busySeconds / 3600, 2)}<td>${figure(u?.utilizationAverage, 2)}<td>${figure(u?.energyMj == null ? null : u.energyMj / 3.6e9, 3)}<td>${figure(u?.memoryPeakBytes == null ? null : u.memoryPeakBytes / 1024 ** 3, 2)}<td>${(device.coverage * 100).toFixed(1)}<td>${device.hours.reduce((n, h) => n + h.xids, 0)}`;
  });
  return `<section id="devices"><h2>GPUs</h2><div class="box"><table><caption>Per GPU over the period</caption><thead><tr><th>GPU<th>Model<th>GPU-hours<th>Busy h<th>Utilization %<th>Energy kWh<th>Peak memory GiB<th>Coverage %<th>XIDs</thead><tbody>${rows.join("")}</tbody></table></div></section>`;
}

function hostSection(data: ReportData, axis: TimeAxis): string {
  if (data.devices.length === 0 && data.hostHealth.length === 0) return "";
  return [
    `<section id="host"><h2>Coverage and driver events, whole host</h2>`,
    `<figure><div>${timeStrip(axis, data.hostGaps, data.hostHealth, "Time with samples of at least one GPU, gaps shaded, driver events marked")}`,
    lineLegend([["bar", "samples"], ["gap", "no samples"], ["partial", "some samples"], ["lost", "driver event"]]),
    `</div>${gapsAndEventsTable(data.hostGaps, data.hostHealth, "Gaps and driver events, whole host")}</figure></section>`,
  ].join("");
}

function deviceSection(device: DeviceReport, axis: TimeAxis, data: ReportData): string {
  const u = device.usage;
  const memoryScale = niceScale(device.memoryTotalGib ?? Math.max(0, ...device.hours.map((h) => h.memoryUsedMaxGib ?? 0)));
  const powerScale = niceScale(Math.max(0, ...device.hours.map((h) => h.powerMaxWatts ?? h.powerWatts ?? 0)), 10);
  const energyScale = niceScale(Math.max(0, ...device.days.map((d) => d.energyKwh ?? 0)), 0.1);
  const temperatureScale = niceScale(Math.max(0, ...device.hours.map((h) => h.temperatureMax ?? h.temperature ?? 0)), 10);
  const points = (value: (h: DeviceReport["hours"][number]) => number | null) =>
    device.hours.map((h) => ({ start: h.start, periodSeconds: h.periodSeconds, value: value(h) }));
  const common = { axis, height: LINE_HEIGHT, gaps: device.gaps, marks: device.health };
  const name = device.label;

  const utilization = timeChart({
    ...common,
    yMax: 100,
    yTicks: [0, 25, 50, 75, 100],
    yUnit: "%",
    band: { className: "band", points: device.hours.map((h) => ({ start: h.start, periodSeconds: h.periodSeconds, low: h.utilizationMin, high: h.utilizationMax })) },
    lines: [{ className: "util", points: points((h) => h.utilization) }],
    label: `${name} utilization per window: average line, minimum to maximum band`,
    hover: [COLUMN["Utilization %"], COLUMN["Min %"], COLUMN["Max %"], COLUMN["Coverage %"]].join(","),
  });
  const memory = timeChart({
    ...common,
    yMax: memoryScale.yMax,
    yTicks: memoryScale.ticks,
    yUnit: "GiB",
    lines: [
      { className: "memmax", points: points((h) => h.memoryUsedMaxGib) },
      { className: "mem", points: points((h) => h.memoryUsedGib) },
    ],
    label: `${name} memory used per window: average and maximum`,
    hover: [COLUMN["Memory GiB"], COLUMN["Memory max GiB"]].join(","),
  });
  const power = timeChart({
    ...common,
    yMax: powerScale.yMax,
    yTicks: powerScale.ticks,
    yUnit: "W",
    lines: [
      { className: "powermax", points: points((h) => h.powerMaxWatts) },
      { className: "power", points: points((h) => h.powerWatts) },
    ],
    label: `${name} power per window: average and maximum`,
    hover: [COLUMN["Power W"], COLUMN["Power max W"], COLUMN["Energy Wh"]].join(","),
  });
  const energy = dayBars(
    axis,
    device.days.map((d) => ({ start: d.start, value: d.energyKwh })),
    70,
    energyScale.yMax,
    energyScale.ticks,
    "kWh",
    `${name} energy per day`,
  );
  const temperature = timeChart({
    ...common,
    yMax: temperatureScale.yMax,
    yTicks: temperatureScale.ticks,
    yUnit: "°C",
    lines: [
      { className: "tempmax", points: points((h) => h.temperatureMax) },
      { className: "temp", points: points((h) => h.temperature) },
    ],
    label: `${name} temperature per window: average and maximum`,
    hover: [COLUMN["Temp °C"], COLUMN["Temp max °C"]].join(","),
  });
  const heat = heatMap(axis, device.heat, `${name} utilization by hour of day and day`);

  const dayRows = (cells: (d: DeviceReport["days"][number]) => string[]) =>
    device.days.map((d) => `<tr><td>${shortDay(d.start)}${cells(d).map((cell) => `<td>${cell}`).join("")}`).join("");
  const dayTable = (caption: string, heads: readonly string[], cells: (d: DeviceReport["days"][number]) => string[]) =>
    `<div class="box"><table><caption>${escapeHtml(caption)}</caption><thead><tr><th>Day${heads.map((h) => `<th>${h}`).join("")}</thead><tbody>${dayRows(cells)}</tbody></table></div>`;

  const facts = [
    escapeHtml(device.uid),
    device.parentUid ? `a MIG device of ${escapeHtml(device.parentUid)}` : "",
    device.pciBusId ? `PCI ${escapeHtml(device.pciBusId)}` : "",
    device.memoryTotalGib !== null ? `${figure(device.memoryTotalGib, 1)} GiB` : "",
    `coverage ${percent(device.coverage)}`,
    u ? `${figure(u.gpuSeconds / 3600, 2)} GPU-hours` : "",
    u?.busySeconds != null ? `${figure(u.busySeconds / 3600, 2)} busy` : "",
    u?.utilizationAverage != null ? `${figure(u.utilizationAverage, 2)} % average` : "",
    u?.energyMj != null ? `${figure(u.energyMj / 3.6e9, 3)} kWh` : "",
  ].filter(Boolean);

  return [
    `<section class="device${device.parentUid === null ? "" : " mig"}" id="${device.anchor}" data-uid="${escapeHtml(device.uid)}">`,
    `<h2>${escapeHtml(device.parentUid === null ? `${name} · ${device.name ?? "unknown model"}` : name)}</h2><p class="ids">${facts.join(" · ")}</p>`,
    figureOf(
      "Coverage and health",
      timeStrip(axis, device.gaps, device.health, `${name} time with samples, gaps shaded, health events marked`) +
        lineLegend([["bar", "samples"], ["gap", "no samples"], ["partial", "some samples"], ["xid", "XID"], ["ecc", "ECC errors"], ["lost", "GPU lost or unreadable"]]),
      gapsAndEventsTable(device.gaps, device.health, `${name} gaps and health events`),
    ),
    figureOf(
      "Utilization",
      utilization + lineLegend([["util", "average per window"], ["band", "minimum to maximum"]]),
      dayTable(`${name} utilization per day`, ["Avg %", "Max %", "Busy h", "Present h"], (d) => [figure(d.utilization, 1), figure(d.utilizationMax), figure(d.busyHours, 2), figure(d.presentHours, 2)]),
    ),
    figureOf(
      "Memory used",
      memory + lineLegend([["mem", "average"], ["memmax", "maximum"]]),
      dayTable(`${name} memory per day`, ["Peak GiB"], (d) => [figure(d.memoryPeakGib, 2)]),
    ),
    figureOf(
      "Power and energy per day",
      power + lineLegend([["power", "average"], ["powermax", "maximum"]]) + energy + lineLegend([["bar", "energy per day"]]),
      dayTable(`${name} power and energy per day`, ["Avg W", "Max W", "kWh"], (d) => [figure(d.powerWatts, 1), figure(d.powerMaxWatts, 1), figure(d.energyKwh, 3)]),
    ),
    figureOf(
      "Temperature",
      temperature + lineLegend([["temp", "average"], ["tempmax", "maximum"]]),
      dayTable(`${name} temperature per day`, ["Max °C"], (d) => [figure(d.temperatureMax)]),
    ),
    figureOf("Utilization by hour of day", heat + heatLegend(), heatTable(device, name)),
    hourlyTable(device, name, data),
    `</section>`,
  ].join("\n");
}

function figureOf(title: string, chart: string, table: string, className = ""): string {
  return `<figure${className ? ` class="${className}"` : ""}><div><h3>${escapeHtml(title)}</h3>${chart}</div>${table}</figure>`;
}

function heatTable(device: DeviceReport, name: string): string {
  const heads = Array.from({ length: 24 }, (_, h) => `<th>${String(h).padStart(2, "0")}`).join("");
  const rows = device.heat.map((row, d) => `<tr><td>${shortDay(device.days[d]!.start)}${row.map((v) => `<td>${figure(v)}`).join("")}`).join("");
  return `<div class="box"><table class="heat"><caption>${escapeHtml(name)} average utilization % by day and hour</caption><thead><tr><th>Day${heads}</thead><tbody>${rows}</tbody></table></div>`;
}

/** Every window of the device: what a person copies into a spreadsheet, and what the hover reads. */
function hourlyTable(device: DeviceReport, name: string, data: ReportData): string {
  const starts = device.hours.map((h) => Math.round((h.start - data.shown.from) / 60)).join(",");
  const periods = device.hours.map((h) => Math.round(h.periodSeconds / 60)).join(",");
  const rows = device.hours
    .map(
      (h) =>
        `<tr${h.open ? ' class="open"' : ""}><td>${localMinute(h.start)}<td>${figure(h.utilization, 1)}<td>${figure(h.utilizationMin)}<td>${figure(h.utilizationMax)}<td>${figure(h.memoryUsedGib, 1)}<td>${figure(h.memoryUsedMaxGib, 1)}<td>${figure(h.powerWatts, 1)}<td>${figure(h.powerMaxWatts)}<td>${figure(h.energyWh, 1)}<td>${figure(h.temperature, 1)}<td>${figure(h.temperatureMax)}<td>${coveragePercent(h.presentSeconds, h.periodSeconds)}<td>${h.xids}`,
    )
    .join("");
  return `<details><summary>${escapeHtml(name)}: every window (${device.hours.length})</summary><div class="box"><table class="hourly"><thead><tr>${HOURLY_COLUMNS.map((c) => `<th>${c}`).join("")}</thead><tbody data-t="${starts}" data-p="${periods}">${rows}</tbody></table></div></details>`;
}

/** A window's coverage in percent: whole numbers as such ("100"), others to a tenth. */
function coveragePercent(present: number, period: number): string {
  const value = Math.round((present / period) * 1000) / 10;
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

function gapsAndEventsTable(gaps: readonly CoverageGap[], marks: readonly HealthMark[], caption: string): string {
  const rows = [
    ...gaps.map((gap) => ({
      at: gap.from,
      cells: [`${localMinute(gap.from)} to ${localMinute(gap.to)}`, gap.kind === "missing" ? "no samples" : `samples for ${percent(gap.share ?? 0)} of the window`],
    })),
    ...marks.map((mark) => ({ at: mark.ts, cells: [localMinute(mark.ts), mark.text] })),
  ].sort((a, b) => a.at - b.at);
  if (rows.length === 0) return `<div class="box"><p class="muted">No gaps and no health events in this period.</p></div>`;
  return `<div class="box"><table class="wide"><caption>${escapeHtml(caption)}</caption><thead><tr><th>When<th>What</thead><tbody>${rows
    .map((row) => `<tr>${row.cells.map((cell) => `<td>${escapeHtml(cell)}`).join("")}`)
    .join("")}</tbody></table></div>`;
}

const OWNER_WORDS: Record<string, string> = { user: "user", container: "container" };

/** Who used the GPUs, by user and by container: bars of GPU-hours and energy, the usage module's rows beside them. */
function attributionSection(data: ReportData): string {
  const title = `<h2>Who used the GPUs</h2>`;
  if (data.attribution.length === 0) {
    return `<section id="attribution">${title}<p class="empty">No attribution data in this period: the agent recorded no processes (collection.processes was off, or NVML listed none).</p></section>`;
  }
  return `<section id="attribution">${title}${data.attribution.map(attributionFigure).join("")}</section>`;
}

function attributionFigure(attribution: Attribution): string {
  const word = OWNER_WORDS[attribution.by] ?? attribution.by;
  const cells = (row: Attribution["total"]) =>
    `<td>${figure(row.gpuHours, 2)}<td>${figure(row.busyHours, 2)}<td>${figure(row.energyKwh, 3)}<td>${escapeHtml(row.energyBasis?.replace("_", " ") ?? "—")}<td>${figure(row.memoryPeakGib, 2)}`;
  const table = `<div class="box"><table class="owners" data-by="${escapeHtml(attribution.by)}"><caption>Use by ${word}</caption><thead><tr><th>${word[0]!.toUpperCase()}${word.slice(1)}<th>GPU-hours<th>SM-busy h<th>Energy kWh<th>Split by<th>Peak GiB</thead><tbody>${attribution.rows
    .map((row) => `<tr><td title="${escapeHtml(row.key)}">${escapeHtml(row.key)}${cells(row)}`)
    .join("")}</tbody><tfoot><tr><th>total${cells(attribution.total)}</tfoot></table></div>`;
  const chart = ownerBars(
    attribution.rows.map((row) => ({ name: row.key, gpuHours: row.gpuHours, energyKwh: row.energyKwh })),
    `GPU-hours and energy by ${word}`,
  );
  return figureOf(`By ${word}`, chart + lineLegend([["util", "GPU-hours"], ["bar", "energy (kWh)"]]), table, "owners");
}

function uploadsSection(data: ReportData): string {
  const u = data.uploads;
  const last = u.lastFailure
    ? `<p>Last failure: ${localMinute(u.lastFailure.at)}, window ${localMinute(u.lastFailure.windowStart)}: ${escapeHtml(u.lastFailure.error)}</p>`
    : `<p class="muted">No failed attempt in this period.</p>`;
  const summary = `<table><caption>Windows of the period and their uploads</caption><thead><tr><th>Windows<th>Delivered<th>Retried<th>Pending<th>Failed<th>Attempts</thead><tbody><tr><td>${u.windows}<td>${u.delivered}<td>${u.retried}<td>${u.pending}<td>${u.failed}<td>${u.attempts}</tbody></table>`;
  const problems =
    u.problems.length === 0
      ? ""
      : `<div class="box"><table class="wide"><caption>Windows retried or failed, newest first</caption><thead><tr><th>Window<th>State<th>Attempts<th>Last attempt<th>Last error</thead><tbody>${u.problems
          .map(
            (p) =>
              `<tr><td>${localMinute(p.windowStart)}<td>${p.state}<td>${p.attempts}<td>${p.lastAttempt === null ? "—" : localMinute(p.lastAttempt)}<td>${escapeHtml(p.lastError ?? "")}`,
          )
          .join("")}</tbody></table></div>`;
  const note = u.configured ? "" : `<p class="muted">No server is configured: windows stay pending until one is.</p>`;
  return `<section id="uploads"><h2>Delivery ledger</h2>${note}${summary}${last}${problems}</section>`;
}
