// The page as text: self-contained (no address outside itself), escaped, and
// its charts' paths broken where data is missing.

import { afterAll, describe, expect, test } from "bun:test";
import { usageByGpu } from "../../src/query/usage.ts";
import { niceScale, ownerBars, shortName, tickLabels, timeChart } from "../../src/report/charts.ts";
import { buildReport, shownPeriod } from "../../src/report/data.ts";
import { renderReportHtml } from "../../src/report/html.ts";
import { renderReportJson } from "../../src/report/json.ts";
import type { StoredGpu } from "../../src/store/gpus.ts";
import type { StoredWindowGpu } from "../../src/store/windows.ts";

const savedTz = process.env.TZ;
process.env.TZ = "UTC";
afterAll(() => {
  if (savedTz === undefined) delete process.env.TZ;
  else process.env.TZ = savedTz;
});

const FROM = Date.UTC(2026, 10, 1) / 1000;
const TO = Date.UTC(2026, 10, 3) / 1000;

function report(host: string, windows: StoredWindowGpu[]) {
  const gpus = new Map<number, StoredGpu>([[1, { id: 1, firstSeen: 0, lastSeen: 0, identity: { uid: "GPU-<1>", name: "H100 <b>", pci_bus_id: "0:18", memory_total: 85e9 } }]]);
  return buildReport({
    host,
    driverVersion: "570.86.15",
    agentVersion: "1.0.0",
    generatedAt: TO,
    period: { from: FROM, to: TO },
    closedUntil: TO,
    windows,
    openWindows: [],
    attribution: [],
    gpus,
    usage: usageByGpu(windows, gpus, FROM, TO),
    events: [],
    ledger: [],
    uploadsConfigured: false,
  });
}

const hour = (i: number, utilization: number | null): StoredWindowGpu => ({
  windowStart: FROM + i * 3600,
  periodSeconds: 3600,
  gpuId: 1,
  sampleCount: 60,
  coverage: 1,
  values: { gpu_utilization: utilization, gpu_utilization_min: 0, gpu_utilization_max: 100, energy_mj: 3.6e9, unavailable_seconds: 0, power_mw: 100_000 },
});

describe("the page", () => {
  const html = renderReportHtml(report(`evil<script>alert(1)</script>`, [hour(0, 10), hour(1, 20), hour(5, 30)]));

  test("names no address outside itself: no src, no external href, no url(), and a policy that forbids loading", () => {
    expect(html).not.toMatch(/\ssrc=/i);
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).not.toMatch(/url\(/i);
    expect([...html.matchAll(/href="([^"]*)"/g)].every(([, href]) => href!.startsWith("#"))).toBe(true);
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'sha256-`);
  });

  test("escapes what the database and the host say", () => {
    expect(html).not.toContain("<script>alert(1)");
    expect(html).toContain("evil&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).toContain("H100 &lt;b&gt;");
    expect(html).toContain("GPU-&lt;1&gt;");
    expect(html.match(/<script>/g)).toHaveLength(1);
  });

  test("says plainly when no GPU was monitored, and that no server is configured", () => {
    const empty = renderReportHtml(report("node", []));
    expect(empty).toContain("No windows were stored in this period");
    expect(empty).toContain("(no server configured)");
    expect(empty).not.toContain('class="device"');
  });

  test("JSON carries the header's figures", () => {
    const data = report("node", [hour(0, 10), hour(1, 20)]);
    const json = JSON.parse(renderReportJson(data));
    expect(json.totals.gpu_hours).toBe(2);
    expect(json.totals.energy_kwh).toBe(2);
    expect(json.devices[0].hours[1].utilization).toBe(20);
    const html = renderReportHtml(data);
    expect(html).toContain(`data-key="gpu_hours" data-value="2"`);
    expect(html).toContain(`data-key="energy_kwh" data-value="2"`);
  });
});

test("a line breaks where a window is missing or has no value; the band closes each run", () => {
  const points = [0, 1, 2, 4, 5, 7].map((i) => ({ start: FROM + i * 3600, periodSeconds: 3600, value: i === 5 ? null : 50 }));
  const svg = timeChart({
    axis: { from: FROM, to: FROM + 8 * 3600, days: [FROM] },
    height: 100,
    yMax: 100,
    yTicks: [0, 100],
    yUnit: "%",
    lines: [{ className: "util", points }],
    band: { className: "band", points: points.map((p) => ({ start: p.start, periodSeconds: 3600, low: 0, high: p.value })) },
    gaps: [],
    marks: [],
    label: "test",
    hover: "1",
  });
  const line = /class="util" d="([^"]*)"/.exec(svg)![1]!;
  // Runs: 0-2, 4, 7: three subpaths.
  expect(line.match(/[Mm]/g)).toHaveLength(3);
  expect(line).toStartWith("M");
  const band = /class="band" d="([^"]*)"/.exec(svg)![1]!;
  expect(band.match(/z/g)).toHaveLength(3);
});

test("tick labels take their decimals from the step: none repeats, none is rounded off", () => {
  expect(tickLabels(niceScale(0.3, 0.1).ticks)).toEqual(["0.0", "0.1", "0.2", "0.3"]);
  expect(tickLabels(niceScale(1).ticks)).toEqual(["0.00", "0.25", "0.50", "0.75", "1.00"]);
  expect(tickLabels(niceScale(0.02, 0.01).ticks)).toEqual(["0.000", "0.005", "0.010", "0.015", "0.020"]);
  expect(tickLabels(niceScale(700, 10).ticks)).toEqual(["0", "200", "400", "600", "800"]);
  expect(tickLabels(niceScale(9, 10).ticks)).toEqual(["0.0", "2.5", "5.0", "7.5", "10.0"]);
  for (const max of [0.013, 0.07, 0.4, 3, 45, 1234]) {
    const labels = tickLabels(niceScale(max, 0.001).ticks);
    expect(new Set(labels).size).toBe(labels.length);
  }
});

test("a window alone is drawn as a dot a few units wide", () => {
  const points = [0, 5, 6].map((i) => ({ start: FROM + i * 3600, periodSeconds: 3600, value: 40 }));
  const svg = timeChart({
    axis: { from: FROM, to: FROM + 24 * 3600, days: [FROM] },
    height: 100,
    yMax: 100,
    yTicks: [0, 100],
    yUnit: "%",
    lines: [{ className: "util", points }],
    gaps: [],
    marks: [],
    label: "test",
    hover: "1",
  });
  const dots = [...svg.matchAll(/<circle class="util dot" cx="([\d.]+)" cy="([\d.]+)" r="(\d+)"\/>/g)];
  // Only the first window is alone; 5 and 6 make a line.
  expect(dots).toHaveLength(1);
  expect(Number(dots[0]![3])).toBeGreaterThanOrEqual(3);
  expect(Number(dots[0]![1])).toBeCloseTo(52 + (0.5 / 24) * 938, 0);
  expect(Number(dots[0]![2])).toBe(18 + 60);
});

test("a long owner name is cut to the room left of the bars, the whole name in a tooltip", () => {
  expect(shortName("alice")).toBe("alice");
  expect(shortName("a".repeat(64))).toBe("a".repeat(12));
  const long = "W".repeat(40);
  const cut = shortName(long);
  expect(cut.endsWith("…")).toBe(true);
  expect(cut.length).toBeLessThan(20);
  const svg = ownerBars([{ name: long, gpuHours: 2, energyKwh: 1 }, { name: "bob", gpuHours: 1, energyKwh: null }], "test");
  expect(svg).toContain(`<g><title>${long}</title><text class="yl" x="200" y="32">${cut}</text></g>`);
  expect(svg).toContain(`>bob</text>`);
  expect(svg).not.toContain("<title>bob</title>");
});

describe("a period far longer than its data", () => {
  const day = [...Array(24).keys()].map((i) => hour(i, 50));
  const gpus = new Map<number, StoredGpu>([[1, { id: 1, firstSeen: 0, lastSeen: 0, identity: { uid: "GPU-1", name: "H100", pci_bus_id: "0:18", memory_total: 85e9 } }]]);
  const from = Date.UTC(1970, 0, 2) / 1000;
  const to = Date.UTC(2020, 0, 1) / 1000;
  const fifty = buildReport({
    host: "h",
    driverVersion: null,
    agentVersion: "1.0.0",
    generatedAt: TO + 3600,
    period: { from, to: TO + 50 * 365 * 86_400 },
    closedUntil: TO,
    windows: day,
    openWindows: [],
    attribution: [],
    gpus,
    usage: usageByGpu(day, gpus, from, TO + 50 * 365 * 86_400),
    events: [],
    ledger: [],
    uploadsConfigured: false,
  });

  test("draws the days with data up to now, not the fifty years asked for; the header keeps the period and the totals", () => {
    expect(fifty.shown).toEqual({ from: FROM, to: TO + 3600 });
    expect(fifty.days).toEqual([FROM, FROM + 86_400, FROM + 2 * 86_400]);
    expect(fifty.devices[0]!.days).toHaveLength(3);
    expect(fifty.from).toBe(from);
    expect(fifty.totals.gpuHours).toBe(24);
    const html = renderReportHtml(fifty);
    expect(html.length).toBeLessThan(1_500_000);
    expect(html.length).toBeLessThan(200_000);
    expect(html).toContain(`data-from="${FROM}" data-to="${TO + 3600}"`);
    expect(html).toContain("1970-01-02 00:00 to");
  });

  test("the stretch drawn: from the first data's local day to now or the end; without data the period to now, or a day ahead", () => {
    const w = (start: number) => ({ ...hour(0, 1), windowStart: start });
    expect(shownPeriod({ from, to: TO }, TO + 5, [w(FROM + 7200)], [])).toEqual({ from: FROM, to: TO });
    expect(shownPeriod({ from: FROM + 3600, to: TO }, TO + 99, [w(FROM + 7200)], [])).toEqual({ from: FROM + 3600, to: TO });
    expect(shownPeriod({ from, to: TO + 86_400 }, TO, [w(FROM)], [{ ts: FROM - 86_400 + 5, kind: "nvml_lost", gpu_index: null, gpu_uuid: null, code: null, detail: "" }])).toEqual({ from: FROM - 86_400, to: TO });
    expect(shownPeriod({ from, to: TO }, FROM, [], [])).toEqual({ from, to: FROM });
    expect(shownPeriod({ from: TO, to: TO + 10 * 86_400 }, FROM, [], [])).toEqual({ from: TO, to: TO + 86_400 });
  });
});
