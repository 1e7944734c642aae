// The compiled agent's metrics endpoint on the fake NVML (eight GPUs), scraped by
// a real Prometheus (Debian's `prometheus` package; .ci/run installs it) through
// basic auth: a PromQL query for DCGM_FI_DEV_GPU_UTIL returns the fake GPUs'
// values with dcgm-exporter's labels; the live page passes promtool.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compiledBinary } from "../helpers/binary.ts";
import { fakeNvmlLibrary, scenarioFile } from "../helpers/fakeNvml.ts";
import { EXPORTED_NAMES } from "../../src/prometheus/exposition.ts";
import { freePort, startServer, type TestServer } from "../helpers/server.ts";

const USER = "prometheus";
const PASSWORD = "scrape-secret";
const UTILIZATION: Record<string, number> = { "0": 97, "1": 95, "2": 12, "3": 88, "4": 100, "5": 73 };

let dir = "";
let agent: ReturnType<typeof Bun.spawn> | null = null;
let prometheus: ReturnType<typeof Bun.spawn> | null = null;
let endpoint = "";
let prometheusUrl = "";
let uploads: TestServer | null = null;
const authorization = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}`;


async function waitFor<T>(what: string, attempt: () => Promise<T | null>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await attempt().catch(() => null);
    if (result !== null) return result;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(200);
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "gpu-monitor-prometheus-"));
  const hash = await Bun.password.hash(PASSWORD, { algorithm: "bcrypt", cost: 4 });
  const agentPort = await freePort();
  uploads = startServer(); // so the agent's send series exist too
  writeFileSync(
    join(dir, "config.json"),
    JSON.stringify({
      collection: { interval_seconds: 1, aggregation_interval_seconds: 5 },
      database: { file: "gm.db" },
      logging: { file: "agent.log" },
      server: { url: uploads.url, retry_initial_seconds: 1, retry_max_seconds: 2 },
      metrics: { listen: `127.0.0.1:${agentPort}`, basic_auth: { [USER]: hash.replace(/^\$2b\$/, "$2y$") } },
    }),
  );
  agent = Bun.spawn([compiledBinary(), "run", "-c", join(dir, "config.json")], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", GPU_MONITOR_NVML_LIBRARY: fakeNvmlLibrary("current"), FAKE_NVML_SCENARIO: scenarioFile("eight_gpus") },
    stdout: "pipe",
    stderr: "pipe",
  });
  endpoint = `http://127.0.0.1:${agentPort}`;
  await waitFor("the first tick on the endpoint", async () => {
    const text = await (await fetch(`${endpoint}/metrics`, { headers: { authorization } })).text();
    return text.includes("DCGM_FI_DEV_GPU_UTIL") ? text : null;
  }, 10_000);

  const prometheusPort = await freePort();
  writeFileSync(join(dir, "password"), PASSWORD);
  writeFileSync(
    join(dir, "prometheus.yml"),
    [
      "global: { scrape_interval: 1s, scrape_timeout: 1s }",
      "scrape_configs:",
      "  - job_name: gpu_monitor",
      `    static_configs: [{ targets: ["127.0.0.1:${agentPort}"] }]`,
      `    basic_auth: { username: ${USER}, password_file: ${join(dir, "password")} }`,
      "",
    ].join("\n"),
  );
  prometheus = Bun.spawn(
    ["prometheus", `--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "tsdb")}`, `--web.listen-address=127.0.0.1:${prometheusPort}`],
    { cwd: dir, stdout: "ignore", stderr: "pipe" },
  );
  prometheusUrl = `http://127.0.0.1:${prometheusPort}`;
}, 30_000);

afterAll(() => {
  agent?.kill("SIGKILL");
  prometheus?.kill("SIGKILL");
  uploads?.stop();
});

async function query(promql: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const reply = await (await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`)).json();
  return (reply as any).data?.result ?? [];
}

describe("the endpoint", () => {
  test("basic auth: without or with a wrong password 401, with the right one 200", async () => {
    expect((await fetch(`${endpoint}/metrics`)).status).toBe(401);
    const wrong = `Basic ${Buffer.from(`${USER}:nope`).toString("base64")}`;
    expect((await fetch(`${endpoint}/metrics`, { headers: { authorization: wrong } })).status).toBe(401);
    const reply = await fetch(`${endpoint}/metrics`, { headers: { authorization } });
    expect(reply.status).toBe(200);
    expect(reply.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  });

  test("/ links /metrics; anything else is 404", async () => {
    expect(await (await fetch(`${endpoint}/`, { headers: { authorization } })).text()).toContain('href="/metrics"');
    expect((await fetch(`${endpoint}/other`, { headers: { authorization } })).status).toBe(404);
  });

  test("OpenMetrics when asked for it", async () => {
    const reply = await fetch(`${endpoint}/metrics`, { headers: { authorization, accept: "application/openmetrics-text; version=1.0.0" } });
    expect(reply.headers.get("content-type")).toStartWith("application/openmetrics-text");
    expect((await reply.text()).endsWith("# EOF\n")).toBe(true);
  });

  test("the live page passes promtool: only dcgm-exporter's own names draw notes", async () => {
    const text = await (await fetch(`${endpoint}/metrics`, { headers: { authorization } })).text();
    const run = Bun.spawnSync(["promtool", "check", "metrics"], { stdin: Buffer.from(text), stdout: "pipe", stderr: "pipe" });
    const notes = `${run.stdout}${run.stderr}`.trim().split("\n").filter(Boolean);
    expect([0, 3]).toContain(run.exitCode);
    expect(notes.filter((note) => !note.startsWith("DCGM_FI_DEV_"))).toEqual([]);
    // Every exported name is there but the fans' (these passively cooled H100s have none: NOT_SUPPORTED) and
    // GPM's DCGM_FI_PROF_* (this scenario's fake GPUs have no GPM; mig.e2e.test.ts scrapes them live).
    expect(EXPORTED_NAMES.filter((name) => !text.includes(`\n${name}{`))).toEqual(["DCGM_FI_DEV_FAN_SPEED", ...EXPORTED_NAMES.filter((name) => name.startsWith("DCGM_FI_PROF_"))]);
    expect(text).toMatch(/^gpu_monitor_scrapes_total \d+$/m);
    expect(text).toMatch(/^gpu_monitor_last_sample_timestamp_seconds \d+$/m);
  });
});

describe("the shipped dashboard and alert rules", () => {
  test("every metric they name is on the live page", async () => {
    const page = await waitFor(
      "a window sent, so the send series exist",
      async () => {
        const text = await (await fetch(`${endpoint}/metrics`, { headers: { authorization } })).text();
        return text.includes("gpu_monitor_last_send_success") ? text : null;
      },
      20_000,
    );
    const families = new Set([...page.matchAll(/^# TYPE (\w+) /gm)].map((match) => match[1]!));
    const repo = join(import.meta.dir, "../..");
    const named = new Set(
      [readFileSync(join(repo, "packaging/grafana/gpu_monitor.json"), "utf8"), readFileSync(join(repo, "packaging/prometheus/alerts.yml"), "utf8")].flatMap((text) => [
        ...text.matchAll(/\b(DCGM_FI_DEV_\w+|gpu_monitor_\w+)\b/g),
      ]).map((match) => match[1]!),
    );
    expect(named.size).toBeGreaterThan(10);
    expect([...named].filter((name) => !families.has(name)).sort()).toEqual([]);
  }, 30_000);
});

describe("a real Prometheus scraping the agent", () => {
  test("DCGM_FI_DEV_GPU_UTIL returns the fake GPUs' values with dcgm-exporter's labels", async () => {
    const series = await waitFor(
      "Prometheus to have scraped",
      async () => {
        const result = await query("DCGM_FI_DEV_GPU_UTIL");
        return result.length === 8 ? result : null;
      },
      20_000,
    );
    for (const { metric, value } of series) {
      expect(Object.keys(metric).sort()).toEqual(["DCGM_FI_DRIVER_VERSION", "Hostname", "UUID", "__name__", "device", "gpu", "instance", "job", "modelName", "pci_bus_id"]);
      expect(metric.device).toBe(`nvidia${metric.gpu}`);
      if (metric.gpu! in UTILIZATION) expect(Number(value[1])).toBe(UTILIZATION[metric.gpu!]!);
    }
    expect(series.find((s) => s.metric.gpu === "0")!.metric).toMatchObject({ UUID: "GPU-a1b2c3d4-0001-4e5f-8a9b-0c1d2e3f4a51", modelName: "NVIDIA H100 80GB HBM3" });
    const up = await query('up{job="gpu_monitor"}');
    expect(up.map((s) => s.value[1])).toEqual(["1"]);
    expect(readFileSync(join(dir, "agent.log"), "utf8")).toContain("serving Prometheus metrics at http://127.0.0.1:");
  }, 30_000);
});

describe("an endpoint other hosts can reach", () => {
  test("--metrics-listen on every address without basic auth warns, and serves", async () => {
    const other = mkdtempSync(join(tmpdir(), "gpu-monitor-prometheus-open-"));
    // 1 s ticks: NVML opens at the first tick, and the build info names its versions from then on.
    writeFileSync(join(other, "config.json"), JSON.stringify({ collection: { interval_seconds: 1 }, database: { file: "gm.db" }, logging: { file: "" } }));
    const port = await freePort();
    const open = Bun.spawn([compiledBinary(), "run", "-o", "-c", join(other, "config.json"), "--metrics-listen", `0.0.0.0:${port}`], {
      cwd: other,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", GPU_MONITOR_NVML_LIBRARY: fakeNvmlLibrary("current"), FAKE_NVML_SCENARIO: scenarioFile("eight_gpus") },
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      // Once NVML has opened, the build info names the driver and NVML the agent reads.
      const buildInfo = await waitFor(
        "the build info with NVML's versions",
        async () => (await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).match(/^gpu_monitor_build_info\{.*nvml_version=.*$/m)?.[0] ?? null,
        15_000,
      );
      expect(buildInfo).toMatch(/^gpu_monitor_build_info\{version="[^"]+",driver_version="550\.54\.15",nvml_version="12\.550\.54\.15"\} 1$/);
    } finally {
      open.kill("SIGTERM");
      await open.exited;
    }
    const log = await new Response(open.stderr as ReadableStream).text();
    expect(log).toContain(`metrics endpoint 0.0.0.0:${port} is reachable from other hosts without authentication`);
  }, 25_000);
});
