// `gpu_monitor report` end to end: the compiled binary writes the page of a
// recorded month of fake data, and headless Chromium opens it from a file URL
// with the network closed. A console error, an exception or any request besides
// the file fails the test; the header's figures must be `usage`'s and agree with
// `export`'s windows. The screenshot it takes is kept beside this file
// (report.png) and shown in the README.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { CHART_GEOMETRY, ownerBars } from "../../src/report/charts.ts";
import { STYLE } from "../../src/report/assets.ts";
import { compiledBinary, runBinary } from "../helpers/binary.ts";
import { CHROMIUM, openPage, type PageSession } from "../helpers/chromium.ts";
import { fakeNvmlLibrary, scenarioFile } from "../helpers/fakeNvml.ts";
import { writeMonth, type MonthOptions } from "../helpers/reportMonth.ts";

const TZ = "Europe/Berlin";
// November 2026 in Berlin (UTC+1 all month).
const FROM = Date.UTC(2026, 9, 31, 23) / 1000;
const TO = Date.UTC(2026, 10, 30, 23) / 1000;
const DAY = 86_400;
const at = (day: number, hour = 0) => FROM + (day - 1) * DAY + hour * 3600;
const SCREENSHOT = join(import.meta.dir, "report.png");

interface Month {
  dir: string;
  cli: (...args: string[]) => { exitCode: number; stdout: string; stderr: string };
}

function month(name: string, options: Omit<MonthOptions, "from" | "to"> & Partial<Pick<MonthOptions, "from" | "to">>): Month {
  const dir = mkdtempSync(join(tmpdir(), `gpu-monitor-report-${name}-`));
  writeMonth(join(dir, "gpu_metrics.db"), { from: FROM, to: TO, timeZone: TZ, ...options });
  const config = join(dir, "config.json");
  writeFileSync(config, JSON.stringify({ collection: { interval_seconds: 300 }, database: { file: "gpu_metrics.db" }, logging: { file: "" } }));
  return { dir, cli: (...args) => runBinary([...args, "-c", config], { TZ }, dir) };
}

/** Writes the month's page with the binary and opens it in Chromium. */
async function openReport(m: Month, file: string, ...period: string[]): Promise<{ page: PageSession; path: string }> {
  const path = join(m.dir, file);
  const run = m.cli("report", ...(period.length ? period : ["--from", "2026-11-01", "--to", "2026-12-01"]), "--out", path);
  expect(run.stderr).toBe("");
  expect(run.exitCode).toBe(0);
  expect(run.stdout).toBe(`${path}\n`);
  const page = await openPage(pathToFileURL(path).href);
  pages.push(page);
  return { page, path };
}

/** The page loaded, said nothing wrong and asked for nothing but itself. */
function expectClean(page: PageSession, path: string): void {
  expect(page.errors).toEqual([]);
  expect(page.requests).toEqual([pathToFileURL(path).href]);
}

const headerValue = (page: PageSession, key: string) => page.evaluate<string>(`document.querySelector('[data-key="${key}"]').dataset.value`);

const pages: PageSession[] = [];
let full: Month;

beforeAll(() => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium (.ci/run does), or set CHROMIUM`);
  compiledBinary();
  full = month("full", {
    gpus: 8,
    downtimes: [
      [at(9, 3), at(10, 15)],
      [at(20, 11), at(20, 14)],
    ],
    lost: { index: 5, at: at(16) + 1234 },
    xids: [
      [at(5, 14) + 100, 1, 13],
      [at(23, 9) + 50, 0, 31],
    ],
    eccAt: { index: 3, at: at(12, 9) },
    ledger: { retried: [at(3, 5), at(3, 6)], failed: [at(7, 10)], pendingFrom: at(30, 20) },
    processes: true,
  });
}, 120_000);

afterAll(async () => {
  for (const page of pages) await page.close();
});

describe("a month of 8 GPUs with gaps, a lost GPU, XIDs, ECC errors and failed uploads", () => {
  test("renders without errors or requests; the header is usage's and export's figures", async () => {
    const { page, path } = await openReport(full, "month.html");
    expectClean(page, path);
    expect(statSync(path).size).toBeLessThan(1_500_000);

    // The header's figures are the usage command's over the same period...
    const usage = full.cli("usage", "--from", "2026-11-01", "--to", "2026-12-01", "--format", "json");
    expect(usage.exitCode).toBe(0);
    const total = JSON.parse(usage.stdout).total;
    expect(Number(await headerValue(page, "gpu_hours"))).toBe(total.gpu_hours);
    expect(Number(await headerValue(page, "busy_gpu_hours"))).toBe(total.busy_gpu_hours);
    expect(Number(await headerValue(page, "energy_kwh"))).toBe(total.energy_kwh);
    expect(Number(await headerValue(page, "utilization_average"))).toBe(total.utilization_avg);

    // ...and what export's windows add up to, worked out here on their own.
    const exported = full.cli("export", "--from", "2026-11-01", "--to", "2026-12-01", "--level", "hourly");
    expect(exported.exitCode).toBe(0);
    const gpus = (JSON.parse(exported.stdout) as Array<{ gpus: Array<Record<string, number>> }>).flatMap((window) => window.gpus);
    const sum = (f: (g: Record<string, number>) => number) => gpus.reduce((s, g) => s + f(g), 0);
    const present = sum((g) => 3600 - g.unavailable_seconds!);
    expect(Number(await headerValue(page, "gpu_hours"))).toBeCloseTo(present / 3600, 5);
    expect(Number(await headerValue(page, "busy_gpu_hours"))).toBeCloseTo(sum((g) => g.busy_seconds ?? 0) / 3600, 5);
    expect(Number(await headerValue(page, "energy_kwh"))).toBeCloseTo(sum((g) => g.energy_consumption ?? 0) / 3.6e9, 5);
    const weighted = sum((g) => (g.gpu_utilization ?? 0) * (g.gpu_utilization === null ? 0 : g.sample_count!));
    const samples = sum((g) => (g.gpu_utilization === null ? 0 : g.sample_count!));
    expect(Number(await headerValue(page, "utilization_average"))).toBeCloseTo(weighted / samples, 2);

    // 28.5 hours of downtime and 3 more: the host had samples the rest of the month.
    const coverage = Number(await headerValue(page, "coverage"));
    expect(coverage).toBeCloseTo((30 * 24 - 36 - 3) / (30 * 24), 4);
    // Every window of the month is in the ledger: 4 still pending, 1 failed for good.
    expect(await headerValue(page, "uploads")).toBe("715,4,1");
  }, 60_000);

  test("every GPU has its charts, each with a table beside it, and the lost GPU its gap and mark", async () => {
    const { page, path } = await openReport(full, "month.html");
    const sections = await page.evaluate<Array<{ uid: string; charts: number; heat: number; strip: number; bars: number; tables: number; figures: number; rows: number }>>(
      `[...document.querySelectorAll('section.device')].map(s => ({
        uid: s.dataset.uid,
        charts: s.querySelectorAll('svg.chart').length,
        heat: s.querySelectorAll('svg.heat').length,
        strip: s.querySelectorAll('svg.strip').length,
        bars: s.querySelectorAll('svg.bars').length,
        figures: s.querySelectorAll('figure').length,
        tables: [...s.querySelectorAll('figure')].filter(f => f.querySelector('table')).length,
        rows: s.querySelector('table.hourly').tBodies[0].rows.length,
      }))`,
    );
    expect(sections).toHaveLength(8);
    for (const section of sections) {
      expect(section).toMatchObject({ charts: 4, heat: 1, strip: 1, bars: 1, figures: 6, tables: 6 });
    }
    // Windows during a downtime of more than a day: GPUs seen in the day before still get one, with no samples.
    expect(sections[0]!.rows).toBeGreaterThan(680);
    // GPU 5, lost after 15 days and a bit, keeps its windows for a day after, then drops off.
    const lost = sections[5]!;
    expect(lost.uid).toBe("GPU-7e1c0a52-0000-4000-8000-000000000005");
    expect(lost.rows).toBeLessThan(16 * 24 + 24);
    const marks = await page.evaluate<string[]>(`[...document.querySelectorAll('#gpu-5 svg.strip g.mark title')].map(t => t.textContent)`);
    expect(marks.some((text) => text.startsWith("XID 79"))).toBe(true);
    expect(marks.some((text) => text.includes("NVML_ERROR_GPU_IS_LOST"))).toBe(true);
    // 15 days less the 36 hours' downtime, and 5 samples of the hour it was lost in.
    const lostCoverage = await page.evaluate<string>(`document.querySelector('#gpu-5 .ids').textContent`);
    expect(lostCoverage).toContain(`coverage ${(((15 * 24 - 36) * 3600 + 1500) / (720 * 3600) * 100).toFixed(1)} %`);
    // The ECC errors of GPU 3, and the XID 13 of GPU 1, are on their time axes.
    expect(await page.evaluate<number>(`document.querySelectorAll('#gpu-3 svg.chart g.mark.ecc').length`)).toBeGreaterThan(0);
    expect(await page.evaluate<string>(`document.querySelector('#gpu-1 svg.strip g.mark.xid title').textContent`)).toStartWith("XID 13");
    // The delivery ledger names the failure.
    expect(await page.evaluate<string>(`document.querySelector('#uploads').textContent`)).toContain("HTTP 422: contract_number unknown to the server");
  }, 60_000);

  test("the screenshot is kept; hover shows the window under the mouse; dark mode is dark; it prints", async () => {
    const { page, path } = await openReport(full, "month.html");
    // The screenshot first, of the page as it opens (no hover, no scrolling).
    const png = await page.screenshot(1900);
    expect([...png.slice(1, 4)]).toEqual([0x50, 0x4e, 0x47]);
    writeFileSync(SCREENSHOT, png);

    const box = await page.evaluate<{ x: number; y: number; width: number; height: number }>(
      `(() => { const svg = document.querySelector('#gpu-0 svg.chart'); svg.scrollIntoView(); const r = svg.getBoundingClientRect(); return { x: r.x, y: r.y, width: r.width, height: r.height }; })()`,
    );
    await page.mouseMove(box.x + box.width * 0.5, box.y + box.height * 0.5);
    const tip = await page.evaluate<{ hidden: boolean; text: string }>(`(() => { const t = document.querySelector('.hovertip'); return { hidden: t.hidden, text: t.textContent }; })()`);
    expect(tip.hidden).toBe(false);
    expect(tip.text).toMatch(/^2026-11-\d\d \d\d:00\nUtilization %: [\d.]+\nMin %: \d+\nMax %: \d+\nCoverage %: [\d.]+$/);
    // Over the heat map: the cell's day and hour, from the matrix beside it (Tue 11-03 at 14:00 here).
    const heat = await page.evaluate<{ x: number; y: number; width: number; height: number }>(
      `(() => { const svg = document.querySelector('#gpu-0 svg.heat'); svg.scrollIntoView(); const r = svg.getBoundingClientRect(); return { x: r.x, y: r.y, width: r.width, height: r.height }; })()`,
    );
    const scale = heat.width / 1000;
    const { left, top, plotWidth, hourHeight } = CHART_GEOMETRY;
    await page.mouseMove(heat.x + (left + 2.5 * (plotWidth / 30)) * scale, heat.y + (top + 14.5 * hourHeight) * scale);
    const cell = await page.evaluate<string>(`document.querySelector('.hovertip').textContent`);
    const expected = await page.evaluate<string>(`document.querySelector('#gpu-0 table.heat').tBodies[0].rows[2].cells[15].textContent`);
    expect(cell).toBe(`Tue 11-03 14:00\nutilization: ${expected} %`);
    expect(page.errors).toEqual([]);

    await page.setColorScheme("dark");
    expect(await page.evaluate<string>(`getComputedStyle(document.body).backgroundColor`)).toBe("rgb(13, 17, 23)");
    await page.setColorScheme("light");
    expect(await page.evaluate<string>(`getComputedStyle(document.body).backgroundColor`)).toBe("rgb(255, 255, 255)");
    const pdf = await page.pdf();
    expect(new TextDecoder().decode(pdf.slice(0, 5))).toBe("%PDF-");
    expectClean(page, path);
  }, 60_000);

  test("who used the GPUs: by user and by container, usage's figures, with bars", async () => {
    const { page, path } = await openReport(full, "month.html");
    expectClean(page, path);
    for (const [by, key] of [["user", "user"], ["container", "container_id"]] as const) {
      const usage = JSON.parse(full.cli("usage", "--by", by, "--from", "2026-11-01", "--to", "2026-12-01", "--format", "json").stdout);
      const rows = await page.evaluate<string[][]>(`[...document.querySelector('table.owners[data-by="${by}"]').tBodies[0].rows].map(r => [...r.cells].map(c => c.textContent))`);
      expect(rows.map((row) => [row[0], row[1], row[3]])).toEqual(
        usage.rows.map((row: Record<string, number | string>) => [row[key], (row.gpu_hours as number).toFixed(2), (row.energy_kwh as number).toFixed(3)]),
      );
    }
    const users = await page.evaluate<string[]>(`[...document.querySelectorAll('table.owners[data-by="user"] tbody tr')].map(r => r.cells[0].textContent)`);
    expect(users.toSorted()).toEqual(["alice", "bob", "carol"]);
    expect(await page.evaluate<number>(`document.querySelectorAll('#attribution svg.owners text').length`)).toBeGreaterThan(0);
  }, 60_000);

  test("--format json has the header's figures; --out - writes the page to stdout", async () => {
    const json = full.cli("report", "--from", "2026-11-01", "--to", "2026-12-01", "--format", "json", "--out", "-");
    expect(json.exitCode).toBe(0);
    const document = JSON.parse(json.stdout);
    const { page } = await openReport(full, "month.html");
    expect(document.totals.gpu_hours).toBe(Number(await headerValue(page, "gpu_hours")));
    expect(document.totals.energy_kwh).toBe(Number(await headerValue(page, "energy_kwh")));
    expect(document.devices).toHaveLength(8);
    expect(document.devices[0].hours[0]).toHaveProperty("utilization_min");
    expect(document.uploads.failed).toBe(1);
    // A window retried and then sent names its last failure, not the success's empty error.
    const retried = document.uploads.problems.filter((p: { state: string }) => p.state === "sent");
    expect(retried.map((p: { window_start: number; last_error: string }) => [p.window_start, p.last_error])).toEqual([
      [at(3, 6), "connection refused"],
      [at(3, 5), "connection refused"],
    ]);
    const byUser = JSON.parse(full.cli("usage", "--by", "user", "--from", "2026-11-01", "--to", "2026-12-01", "--format", "json").stdout);
    expect(document.attribution[0].by).toBe("user");
    expect(document.attribution[0].total.gpu_hours).toBe(byUser.total.gpu_hours);
    expect(document.attribution[0].total.energy_kwh).toBe(byUser.total.energy_kwh);

    const html = full.cli("report", "--from", "2026-11-01", "--to", "2026-12-01", "--out", "-");
    expect(html.exitCode).toBe(0);
    expect(html.stdout).toStartWith("<!doctype html>");
    // The same page as the file, but for the minute it was made at.
    const madeAt = (page: string) => page.replace(/ at \d{4}-\d\d-\d\d \d\d:\d\d from /, " at … from ");
    expect(madeAt(html.stdout)).toBe(madeAt(readFileSync(join(full.dir, "month.html"), "utf8")));
  }, 60_000);
});

describe("other months", () => {
  test("an empty period: the page says no GPU was monitored", async () => {
    const m = month("empty", { gpus: 2, from: at(10), to: at(12) });
    const { page, path } = await openReport(m, "empty.html", "--from", "2026-11-20", "--to", "2026-11-27");
    expectClean(page, path);
    expect(await page.evaluate<number>(`document.querySelectorAll('section.device').length`)).toBe(0);
    expect(await page.evaluate<string>(`document.querySelector('#devices').textContent`)).toContain("No windows were stored in this period");
    expect(await page.evaluate<string>(`document.querySelector('#attribution').textContent`)).toContain("No attribution data in this period");
    expect(Number(await headerValue(page, "gpu_hours"))).toBe(0);
    // A period before anything was stored, on the same database.
    const { page: before, path: beforePath } = await openReport(m, "before.html", "--from", "2026-10-01", "--to", "2026-10-08");
    expectClean(before, beforePath);
    expect(Number(await headerValue(before, "coverage"))).toBe(0);
  }, 60_000);

  test("gaps: the agent down two days and a few hours shows as shaded time, listed with its times", async () => {
    const m = month("gaps", { gpus: 2, downtimes: [[at(4, 6), at(6, 6)], [at(18, 20), at(19, 1)]] });
    const { page, path } = await openReport(m, "gaps.html");
    expectClean(page, path);
    const rows = await page.evaluate<string[]>(`[...document.querySelectorAll('#host table tbody tr')].map(r => r.textContent)`);
    expect(rows).toEqual(["2026-11-04 06:00 to 2026-11-06 06:00no samples", "2026-11-18 20:00 to 2026-11-19 01:00no samples"]);
    expect(await page.evaluate<number>(`document.querySelectorAll('#gpu-0 svg.chart path.gap').length`)).toBe(4);
    expect(Number(await headerValue(page, "coverage"))).toBeCloseTo((720 - 53) / 720, 4);
  }, 60_000);

  test("one GPU lost half the month: half its coverage, the other GPU whole", async () => {
    const m = month("lost", { gpus: 2, lost: { index: 1, at: at(16) } });
    const { page, path } = await openReport(m, "lost.html");
    expectClean(page, path);
    const coverage = await page.evaluate<string[]>(`[...document.querySelectorAll('#devices tbody tr')].map(r => r.cells[7].textContent)`);
    expect(coverage).toEqual(["100.0", "50.0"]);
    expect(Number(await headerValue(page, "coverage"))).toBe(1);
    expect(Number(await headerValue(page, "gpu_hours"))).toBe(720 + 360);
  }, 60_000);

  test("hours not aggregated yet are read from raw samples: in the charts and tables, not in the totals", async () => {
    const m = month("open", { gpus: 2, from: at(1), to: at(3), aggregateUntil: at(2, 12) });
    const { page, path } = await openReport(m, "open.html", "--from", "2026-11-01", "--to", "2026-11-03");
    expectClean(page, path);
    const rows = await page.evaluate<{ all: number; open: number; firstOpen: string }>(
      `(() => { const rows = [...document.querySelector('#gpu-0 table.hourly').tBodies[0].rows]; const open = rows.filter(r => r.classList.contains('open')); return { all: rows.length, open: open.length, firstOpen: open[0].cells[0].textContent }; })()`,
    );
    expect(rows).toEqual({ all: 48, open: 12, firstOpen: "2026-11-02 12:00" });
    expect(await page.evaluate<string>(`document.querySelector('#open-windows').textContent`)).toStartWith("12 window(s) from 2026-11-02 12:00 on are not aggregated yet");
    // The totals are the stored windows', as usage gives them.
    const usage = JSON.parse(m.cli("usage", "--from", "2026-11-01", "--to", "2026-11-03", "--format", "json").stdout).total;
    expect(Number(await headerValue(page, "gpu_hours"))).toBe(usage.gpu_hours);
    expect(usage.gpu_hours).toBe(2 * 36);
    // No gap where the open hours have samples.
    expect(await page.evaluate<number>(`document.querySelectorAll('#host table tbody tr').length`)).toBe(0);
  }, 60_000);

  test("the default period is the last full month and the file is named after host and period", () => {
    const now = new Date();
    const lastMonth = berlinMonthStart(now, 1).getTime() / 1000;
    const m = month("default", { gpus: 1, from: lastMonth, to: lastMonth + 2 * DAY });
    // Dates as the binary sees them (TZ Berlin): worked out with the same rule in a Berlin-zoned formatter.
    const day = (d: Date) => new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit" }).format(d);
    const berlinFrom = berlinMonthStart(now, 1);
    const berlinTo = berlinMonthStart(now, 0);
    const run = m.cli("report");
    expect(run.exitCode).toBe(0);
    const name = `gpu_monitor-report-${hostname().replace(/[^A-Za-z0-9._-]+/g, "_")}-${day(berlinFrom)}-${day(berlinTo)}.html`;
    expect(run.stdout).toBe(`${join(m.dir, name)}\n`);
    expect(readFileSync(join(m.dir, name), "utf8")).toContain('data-key="gpu_hours" data-value="48"');
  });

  test("bad input: exit 2 with what was wanted; no database: exit 1", () => {
    expect(full.cli("report", "--format", "pdf")).toMatchObject({ exitCode: 2, stderr: "gpu_monitor: usage error: --format must be html or json, not 'pdf'\n" });
    expect(full.cli("report", "--to", "2026-12-01")).toMatchObject({ exitCode: 2, stderr: "gpu_monitor: usage error: --to needs --from: give both, or neither for the last full month\n" });
    expect(full.cli("report", "--from", "2026-12-01", "--to", "2026-11-01").exitCode).toBe(2);
    const unwritable = full.cli("report", "--from", "2026-11-01", "--to", "2026-12-01", "--out", join(full.dir, "no-such-folder", "r.html"));
    expect(unwritable).toMatchObject({ exitCode: 1, stdout: "", stderr: `gpu_monitor: error: cannot write ${join(full.dir, "no-such-folder", "r.html")}: its folder does not exist\n` });
    const none = runBinary(["report", "-c", writeConfig({ database: { file: "missing.db" } })], { TZ });
    expect(none.exitCode).toBe(1);
    expect(none.stderr).toContain("missing.db");
  });
});

/** The first of the month `back` months before `now`'s month, in Berlin. */
function berlinMonthStart(now: Date, back: number): Date {
  const [year, month] = new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric", month: "2-digit" }).format(now).split("-").map(Number) as [number, number];
  return new Date(Date.UTC(year, month - 1 - back, 1, 12));
}

function writeConfig(config: object): string {
  const dir = mkdtempSync(join(tmpdir(), "gpu-monitor-report-config-"));
  const file = join(dir, "config.json");
  writeFileSync(file, JSON.stringify(config));
  return file;
}

describe("an H100 in MIG mode beside an A100, recorded by the compiled agent on the fake NVML", () => {
  let dir = "";
  const env = () => ({ TZ, GPU_MONITOR_NVML_LIBRARY: fakeNvmlLibrary("current"), FAKE_NVML_SCENARIO: scenarioFile("h100_mig") });
  const cli = (...args: string[]) => runBinary([...args, "-c", join(dir, "config.json")], env(), dir);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "gpu-monitor-report-mig-"));
    writeFileSync(join(dir, "config.json"), JSON.stringify({ collection: { interval_seconds: 1, aggregation_interval_seconds: 5 }, database: { file: "gpu_metrics.db" } }));
    const agent = Bun.spawn([compiledBinary(), "run", "-o", "-c", join(dir, "config.json")], { cwd: dir, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env() }, stdout: "ignore", stderr: "ignore" });
    // Two whole 5 s windows of every device.
    const deadline = Date.now() + 30_000;
    for (;;) {
      await Bun.sleep(500);
      const usage = cli("usage", "--from", "-5m", "--format", "json");
      const rows = usage.exitCode === 0 ? (JSON.parse(usage.stdout).rows as Array<{ windows: number }>) : [];
      if (rows.length === 5 && rows.every((row) => row.windows >= 2)) break;
      if (Date.now() > deadline) throw new Error(`no two windows of 5 devices in 30 s: ${usage.stdout}${usage.stderr}`);
    }
    agent.kill("SIGTERM");
    await agent.exited;
  }, 60_000);

  test("each MIG device has its section right after its GPU, named by profile, and the totals are usage's", async () => {
    const path = join(dir, "mig.html");
    const period = ["--from", new Date(Date.now() - 600_000).toISOString(), "--to", new Date(Date.now() + 60_000).toISOString()];
    const run = cli("report", ...period, "--out", path);
    expect(run).toMatchObject({ exitCode: 0, stderr: "" });
    const page = await openPage(pathToFileURL(path).href);
    pages.push(page);
    expectClean(page, path);
    const sections = await page.evaluate<Array<{ id: string; title: string; utilization: string[] }>>(
      `[...document.querySelectorAll('section.device')].map(s => ({ id: s.id, title: s.querySelector('h2').textContent, utilization: [...s.querySelector('table.hourly').tBodies[0].rows].map(r => r.cells[1].textContent) }))`,
    );
    const h100 = sections.findIndex((s) => s.title.includes("H100") && !s.title.includes("MIG"));
    expect(sections.slice(h100 + 1, h100 + 4).map((s) => s.title)).toEqual([
      `GPU ${h100 === 0 ? 0 : 1} · MIG 3g.40gb`,
      `GPU ${h100 === 0 ? 0 : 1} · MIG 1g.10gb`,
      `GPU ${h100 === 0 ? 0 : 1} · MIG 1g.10gb`,
    ]);
    expect(sections).toHaveLength(5);
    // A MIG device's utilization is GPM's graphics activity (NVML gives none; GPM from the second sample on).
    for (const slice of sections.slice(h100 + 1, h100 + 4)) expect(slice.utilization.some((cell) => /^\d+(\.\d)?$/.test(cell))).toBe(true);
    const usage = JSON.parse(cli("usage", ...period, "--format", "json").stdout);
    expect(usage.total.gpu_hours).toBeGreaterThan(0);
    expect(Number(await headerValue(page, "gpu_hours"))).toBe(usage.total.gpu_hours);
    expect(Number(await headerValue(page, "utilization_average"))).toBe(usage.total.utilization_avg);
    expect(await page.evaluate<string>(`document.querySelector('dl.facts').textContent`)).toContain("GPUs1 × NVIDIA H100 80GB HBM3, 1 × NVIDIA A100-SXM4-80GB, with 3 MIG devices");
  }, 60_000);
});

describe("an agent started minutes ago (raw samples, no hour closed yet)", () => {
  test("a plain `report` covers this month so far with its GPUs, not last month's empty page", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gpu-monitor-report-fresh-"));
    const env = { TZ, GPU_MONITOR_NVML_LIBRARY: fakeNvmlLibrary("current"), FAKE_NVML_SCENARIO: scenarioFile("h100") };
    writeFileSync(join(dir, "config.json"), JSON.stringify({ collection: { interval_seconds: 1 }, database: { file: "gpu_metrics.db" } }));
    const cli = (...args: string[]) => runBinary([...args, "-c", join(dir, "config.json")], env, dir);
    const agent = Bun.spawn([compiledBinary(), "run", "-o", "-c", join(dir, "config.json")], { cwd: dir, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env }, stdout: "ignore", stderr: "ignore" });
    try {
      const deadline = Date.now() + 30_000;
      for (;;) {
        await Bun.sleep(500);
        const raw = cli("export", "--from", "-10m", "--level", "raw");
        if (raw.exitCode === 0 && raw.stdout.trim().split("\n").filter(Boolean).length >= 3) break;
        if (Date.now() > deadline) throw new Error(`no raw samples in 30 s: ${raw.stdout}${raw.stderr}`);
      }
    } finally {
      agent.kill("SIGTERM");
      await agent.exited;
    }
    // Hourly windows: none is closed a few seconds after the start (unless the hour turned meanwhile).
    const run = cli("report", "--format", "json", "--out", "-");
    expect(run).toMatchObject({ exitCode: 0, stderr: "" });
    const report = JSON.parse(run.stdout);
    const thisMonth = berlinMonthStart(new Date(), 0);
    const day = (d: Date) => new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit" }).format(d);
    expect(day(new Date(report.from * 1000))).toBe(day(thisMonth));
    expect(report.to).toBeGreaterThan(Date.now() / 1000 - 60);
    expect(report.devices.map((device: { name: string }) => device.name)).toEqual(["NVIDIA H100 80GB HBM3"]);
    expect(report.devices[0].hours.length).toBeGreaterThan(0);
  }, 60_000);
});

test("long user and container names fit left of the bars in the browser, cut with the whole name as a tooltip", async () => {
  const names = ["W".repeat(60), "M@%&".repeat(15), "漢字のユーザー名".repeat(6), "😀".repeat(40), "a-very-long-service-account-name-for-the-batch-scheduler", "bob"];
  const svg = ownerBars(names.map((name, i) => ({ name, gpuHours: 10 - i, energyKwh: 1 })), "names");
  const dir = mkdtempSync(join(tmpdir(), "gpu-monitor-report-names-"));
  const path = join(dir, "names.html");
  writeFileSync(path, `<!doctype html><html><head><meta charset="utf-8"><style>${STYLE}</style></head><body style="width:1000px">${svg}</body></html>`);
  const page = await openPage(pathToFileURL(path).href);
  pages.push(page);
  expect(page.errors).toEqual([]);
  const boxes = await page.evaluate<Array<{ text: string; x: number; title: string | null }>>(
    `[...document.querySelectorAll('svg.owners text.yl')].map(t => ({ text: t.textContent, x: t.getBBox().x, title: t.previousElementSibling?.tagName === 'title' ? t.previousElementSibling.textContent : null }))`,
  );
  expect(boxes).toHaveLength(names.length);
  for (const box of boxes) expect(box.x).toBeGreaterThanOrEqual(0);
  expect(boxes.map((box) => box.title ?? box.text)).toEqual(names);
  expect(boxes.at(-1)).toEqual({ text: "bob", x: boxes.at(-1)!.x, title: null });
}, 60_000);
