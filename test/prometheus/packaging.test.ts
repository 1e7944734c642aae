// What packaging/ ships for Prometheus and Grafana: the alert rules pass
// promtool's check and their own tests, each rule is tested firing and silent,
// and the rules and the dashboard name only metrics the endpoint exports, in
// PromQL that parses (promtool, Debian's `prometheus` package).

import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { EXPORTED_NAMES, exposition, type ScrapeState } from "../../src/prometheus/exposition.ts";
import { eightGpus } from "../helpers/samples.ts";

const REPO = resolve(import.meta.dir, "../..");
const RULES = join(REPO, "packaging/prometheus/alerts.yml");
const RULE_TESTS = join(REPO, "packaging/prometheus/alerts.test.yml");
const DASHBOARD = join(REPO, "packaging/grafana/gpu_monitor.json");

function promtool(...args: string[]): { exitCode: number; output: string } {
  const run = Bun.spawnSync(["promtool", ...args], { cwd: REPO, stdout: "pipe", stderr: "pipe" });
  return { exitCode: run.exitCode, output: `${run.stdout}${run.stderr}` };
}

/** Exit 0, or a failure that shows what promtool said. */
function expectSuccess(run: { exitCode: number; output: string }): void {
  expect({ exitCode: run.exitCode, output: run.exitCode === 0 ? "" : run.output }).toEqual({ exitCode: 0, output: "" });
}

// --- the rules --------------------------------------------------------------

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleTest {
  alertname: string;
  eval_time: string;
  exp_alerts?: unknown[] | null;
}

const rules = (Bun.YAML.parse(readFileSync(RULES, "utf8")) as { groups: Array<{ rules: Rule[] }> }).groups.flatMap((group) => group.rules);
const alerts = rules.filter((rule): rule is Rule & { alert: string } => typeof rule.alert === "string");
const ruleTests = Bun.YAML.parse(readFileSync(RULE_TESTS, "utf8")) as {
  rule_files: string[];
  tests: Array<{ alert_rule_test?: RuleTest[] }>;
};
const alertTests = ruleTests.tests.flatMap((t) => t.alert_rule_test ?? []);

describe("packaging/prometheus/alerts.yml", () => {
  test("promtool check rules accepts it", () => {
    expectSuccess(promtool("check", "rules", RULES));
  });

  test("promtool test rules passes alerts.test.yml", () => {
    expectSuccess(promtool("test", "rules", RULE_TESTS));
  });

  test("every alert is tested firing and staying silent, and every test names an alert that exists", () => {
    expect(ruleTests.rule_files).toEqual(["alerts.yml"]);
    expect(alerts.length).toBeGreaterThan(0);
    const untested = alerts.flatMap(({ alert }) => {
      const cases = alertTests.filter((t) => t.alertname === alert);
      const missing = [];
      if (!cases.some((t) => (t.exp_alerts ?? []).length > 0)) missing.push(`${alert}: no test where it fires`);
      if (!cases.some((t) => (t.exp_alerts ?? []).length === 0)) missing.push(`${alert}: no test where it stays silent`);
      return missing;
    });
    expect(untested).toEqual([]);
    // promtool passes a test of a misspelt alert that expects nothing
    const names = new Set(alerts.map((rule) => rule.alert));
    expect(alertTests.map((t) => t.alertname).filter((name) => !names.has(name))).toEqual([]);
  });

  test("every alert has a severity, a summary and a description", () => {
    for (const rule of alerts) {
      expect({ alert: rule.alert, severity: rule.labels?.severity }).toEqual({ alert: rule.alert, severity: expect.stringMatching(/^(critical|warning)$/) });
      expect({ alert: rule.alert, annotations: Object.keys(rule.annotations ?? {}).sort() }).toEqual({ alert: rule.alert, annotations: ["description", "summary"] });
    }
  });
});

// --- the dashboard ----------------------------------------------------------

interface Panel {
  id?: number;
  title?: string;
  type?: string;
  targets?: Array<{ refId?: string; expr?: string }>;
  panels?: Panel[];
}
interface Dashboard {
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query?: string | { query?: string } }> };
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8")) as Dashboard;

/** Every PromQL expression of the dashboard: panel targets (rows' panels too) and variable queries, label_values() unwrapped. */
function dashboardExpressions(board: Dashboard): Array<{ where: string; expr: string }> {
  const found: Array<{ where: string; expr: string }> = [];
  const visit = (panels: readonly Panel[]) => {
    for (const panel of panels) {
      for (const target of panel.targets ?? []) {
        if (target.expr) found.push({ where: `panel ${panel.id} "${panel.title}" ${target.refId}`, expr: target.expr });
      }
      visit(panel.panels ?? []);
    }
  };
  visit(board.panels);
  for (const variable of board.templating.list) {
    if (variable.type !== "query") continue;
    const query = typeof variable.query === "string" ? variable.query : (variable.query?.query ?? "");
    // label_values(selector, label) and query_result(expr) hold PromQL; label_values(label) holds none
    const inner = /^\s*label_values\((.+),\s*\w+\s*\)\s*$/.exec(query)?.[1] ?? /^\s*query_result\((.+)\)\s*$/.exec(query)?.[1];
    if (inner) found.push({ where: `variable $${variable.name}`, expr: inner });
  }
  return found;
}

const variables = new Set(dashboard.templating.list.map((variable) => variable.name));
/** Grafana's own variables, as a concrete value would stand in a query. */
const BUILT_IN: Readonly<Record<string, string>> = { __rate_interval: "4m", __interval: "1m", __range: "24h", __range_s: "86400", __range_ms: "86400000", __interval_ms: "60000" };

/** The expression as Prometheus would get it: Grafana's variables replaced, dashboard variables by a regex matching all. */
function substituted(expr: string): string {
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (whole, braced?: string, bare?: string) => {
    const name = (braced ?? bare)!;
    if (name in BUILT_IN) return BUILT_IN[name]!;
    if (variables.has(name)) return ".*";
    throw new Error(`unknown variable ${whole} in ${expr}`);
  });
}

const PROMQL_KEYWORDS = new Set(["and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan", "atan2"]);

/**
 * The metric names an expression selects: identifiers outside strings, label
 * matchers, ranges and grouping clauses that are not functions (followed by
 * "(") or keywords.
 */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, "{}")
    .replace(/\[[^\]]*\]/g, "[]")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, "");
  const names = [...bare.matchAll(/(?<![\w.])([A-Za-z_:][\w:]*)(?![\w:]|\s*\()/g)].map((match) => match[1]!);
  return [...new Set(names.filter((name) => !PROMQL_KEYWORDS.has(name.toLowerCase())))];
}

/** A scrape that shows every family the agent can export: a fan on one GPU, an XID, an NVML error, windows and an upload. */
function fullState(): ScrapeState {
  const gpus = eightGpus();
  gpus[0] = { ...gpus[0]!, fanSpeedsPercent: [40] };
  // A Hopper GPU's GPM activity: the DCGM_FI_PROF_* families.
  gpus[1] = {
    ...gpus[1]!,
    gpm: { spanMs: 60_000, smActivityPercent: 50, smOccupancyPercent: 25, tensorActivityPercent: 10, dramActivityPercent: 30, graphicsActivityPercent: 70 },
  };
  return {
    hostname: "gpu-host-1",
    version: "0.1.0",
    driverVersion: "550.54.15",
    nvmlVersion: "12.550.54.15",
    gpus,
    lastSampleTs: 1_765_000_000,
    tickDurationSeconds: 0.0012,
    lastXid: new Map([[gpus[3]!.uuid, 79]]),
    nvmlErrors: new Map([["power_usage|NVML_ERROR_UNKNOWN", 3]]),
    windowsPending: 2,
    windowsFailed: 1,
    lastSend: { ok: false, ts: 1_764_999_990 },
    scrapes: 5,
  };
}

/** Families in the text format: a counter's family is its sample name, _total included. */
const exported = new Set([...exposition(fullState(), "text").matchAll(/^# TYPE (\S+) /gm)].map((match) => match[1]!));
/** Prometheus' own series for each target. */
const SYNTHETIC = new Set(["up"]);

describe("the names the rules and the dashboard use", () => {
  test("the scrape used as reference shows every family the exposition can emit", () => {
    const source = readFileSync(join(REPO, "src/prometheus/exposition.ts"), "utf8");
    const agentFamilies = [...source.matchAll(/family\(\s*"(gpu_monitor_\w+)"/g)].map((match) => match[1]!);
    expect(agentFamilies.length).toBeGreaterThan(5);
    expect([...EXPORTED_NAMES, ...agentFamilies].filter((name) => !exported.has(name))).toEqual([]);
  });

  test("metricNames finds selected metrics, not labels, functions, keywords or strings", () => {
    expect(
      metricNames('sum by (Hostname, DCGM_FI_DRIVER_VERSION) (increase(DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{Hostname=~"a"}[1h])) / 3.6e9'),
    ).toEqual(["DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"]);
    expect(metricNames('up{job="gpu_monitor"} == 1 unless on (job, instance) gpu_monitor_last_sample_timestamp_seconds')).toEqual([
      "up",
      "gpu_monitor_last_sample_timestamp_seconds",
    ]);
    expect(metricNames("floor(DCGM_FI_DEV_CLOCK_THROTTLE_REASONS / 32) % 2 == 1 or time() - nvidia_smi_temperature_gpu > 0")).toEqual([
      "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS",
      "nvidia_smi_temperature_gpu",
    ]);
  });

  test("every metric an alert rule selects is exported by the endpoint (or is Prometheus' up)", () => {
    const unknown = rules.flatMap((rule) =>
      metricNames(rule.expr)
        .filter((name) => !exported.has(name) && !SYNTHETIC.has(name))
        .map((name) => `${rule.alert ?? rule.record}: ${name}`),
    );
    expect(unknown).toEqual([]);
  });

  test("every metric a dashboard query selects is exported by the endpoint (or is Prometheus' up)", () => {
    const expressions = dashboardExpressions(dashboard);
    expect(expressions.length).toBeGreaterThan(20);
    const unknown = expressions.flatMap(({ where, expr }) =>
      metricNames(substituted(expr))
        .filter((name) => !exported.has(name) && !SYNTHETIC.has(name))
        .map((name) => `${where}: ${name} in ${expr}`),
    );
    expect(unknown).toEqual([]);
  });
});

describe("packaging/grafana/gpu_monitor.json", () => {
  test("a Prometheus data source variable, and Hostname and gpu variables from label_values", () => {
    const byName = new Map(dashboard.templating.list.map((variable) => [variable.name, variable]));
    expect(byName.get("datasource")).toMatchObject({ type: "datasource", query: "prometheus" });
    for (const name of ["Hostname", "gpu"]) {
      const variable = byName.get(name)!;
      const query = typeof variable.query === "string" ? variable.query : variable.query?.query;
      expect({ name, type: variable.type, query }).toEqual({ name, type: "query", query: expect.stringMatching(new RegExp(`^label_values\\(.*, ${name}\\)$`)) });
    }
  });

  test("every GPU selector in a panel follows $Hostname and $gpu, every agent selector $instance", () => {
    const unfiltered = dashboardExpressions(dashboard)
      .filter(({ where }) => where.startsWith("panel"))
      .flatMap(({ where, expr }) =>
        [...expr.matchAll(/\b(DCGM_FI_\w+|gpu_monitor_\w+|up)\b(\{[^}]*\})?/g)].flatMap(([selector, name, matchers = ""]) => {
          const wanted = name!.startsWith("DCGM_FI_") ? ['Hostname=~"$Hostname"', 'gpu=~"$gpu"'] : ['instance=~"$instance"'];
          return wanted.every((matcher) => matchers.includes(matcher)) ? [] : [`${where}: ${selector}`];
        }),
      );
    expect(unfiltered).toEqual([]);
  });

  test("every query parses as PromQL (promtool check rules over them as recording rules)", () => {
    const expressions = dashboardExpressions(dashboard).map(({ where, expr }) => ({ where, expr: substituted(expr) }));
    const file = join(mkdtempSync(join(tmpdir(), "gpu-monitor-dashboard-")), "dashboard.rules.yml");
    // A JSON string is a YAML double-quoted scalar.
    const recordingRules = expressions.map(({ expr }, i) => `      - record: dashboard:query_${i + 1}\n        expr: ${JSON.stringify(expr)}\n`);
    writeFileSync(file, `groups:\n  - name: dashboard\n    rules:\n${recordingRules.join("")}`);
    const run = promtool("check", "rules", file);
    // promtool names the rule by its position: name the panel and the expression instead
    const offending = [...run.output.matchAll(/rule (\d+), "[^"]*": (.*)$/gm)].map(([, index, error]) => {
      const { where, expr } = expressions[Number(index) - 1]!;
      return `${where}: ${expr}: ${error}`;
    });
    expect(offending).toEqual([]);
    expectSuccess(run);
  });
});
