// The compiled agent shipping to a real server on 127.0.0.1 that fails for a while,
// then the ledger commands on what happened.

import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compiledBinary, runBinary, runBinaryAsync } from "../helpers/binary.ts";
import { fakeNvmlLibrary, scenarioFile } from "../helpers/fakeNvml.ts";
import { acceptAll, startServer, type TestServer } from "../helpers/server.ts";

let server: TestServer | null = null;
afterEach(() => server?.stop());

function setup(url: string) {
  const dir = mkdtempSync(join(tmpdir(), "gpu-monitor-ship-"));
  const config = join(dir, "config.json");
  writeFileSync(
    config,
    JSON.stringify({
      server: { url, contract_number: "C-77", retry_initial_seconds: 1, retry_max_seconds: 2, timeout_seconds: 5 },
      collection: { interval_seconds: 1, aggregation_interval_seconds: 3 },
      database: { file: "gpu_metrics.db" },
    }),
  );
  const env = { GPU_MONITOR_NVML_LIBRARY: fakeNvmlLibrary("current"), FAKE_NVML_SCENARIO: scenarioFile("h100") };
  const start = (...flags: string[]) =>
    Bun.spawn([compiledBinary(), "run", "-c", config, ...flags], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
      stdout: "pipe",
      stderr: "pipe",
    });
  const cli = (...args: string[]) => runBinary([...args, "-c", config], env, dir);
  // For commands that talk to the server, which runs in this process: spawnSync would block it.
  const cliAsync = (...args: string[]) => runBinaryAsync([...args, "-c", config], env, dir);
  return { dir, config, start, cli, cliAsync };
}

/** Windows each delivered (by aggregation_time), in the order first received. */
function deliveries(server: TestServer): string[] {
  return server.received.map((u) => u.body.aggregation_time);
}

describe("the agent ships", () => {
  test("through an outage: every window delivered once, in order, and the ledger tells the story", async () => {
    const healthyAfter = Date.now() + 8000; // the first windows close while the server is down
    server = startServer((upload) => (Date.now() < healthyAfter ? new Response("maintenance", { status: 503 }) : acceptAll(upload)));
    const { start, cli } = setup(server.url);
    const agent = start();
    await Bun.sleep(16_000);
    agent.kill("SIGTERM");
    expect(await agent.exited).toBe(0);
    const accepted = server.received.filter((u, n) => n >= 0 && u.at >= healthyAfter).map((u) => u.body.aggregation_time);
    expect(accepted.length).toBeGreaterThanOrEqual(3);
    expect(new Set(accepted).size).toBe(accepted.length); // each once
    expect([...accepted].sort()).toEqual(accepted); // in order
    expect(server.received.some((u) => u.at < healthyAfter)).toBe(true); // the outage was seen
    const first = server.received[0]!;
    expect(first.headers["x-contract-number"]).toBe("C-77");
    expect(first.headers["user-agent"]).toMatch(/^gpu_monitor\//);
    expect(first.body.gpus[0].name).toBe("NVIDIA H100 80GB HBM3");

    const list = cli("-ls");
    expect(list.exitCode).toBe(0);
    const lines = list.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("Send Attempts:");
    expect(lines[1]).toBe("Aggregation Time | Attempts | First Attempt | Last Attempt | Last Error | UID | Sent");
    const failedThenSent = lines.slice(2).find((line) => line.includes("server answered 503") || / \| [2-9]\d* \| /.test(line));
    expect(failedThenSent).toBeDefined();
    const json = JSON.parse(cli("-ls", "-f", "json").stdout);
    const retried = json.find((w: { attempts: number; sent: number }) => w.attempts > 1 && w.sent === 1);
    expect(retried).toBeDefined();
    const detail = cli("-ss", retried.aggregation_time);
    expect(detail.stdout).toContain("Send Attempt Details:");
    expect(detail.stdout).toContain(`Aggregation Time: ${retried.aggregation_time}`);
    expect(detail.stdout).toContain("retryable | HTTP 503");
    expect(detail.stdout).toMatch(/sent \| HTTP 200 \| \d+ ms \| uid srv-/);
    const status = cli("status", "--format", "json");
    const report = JSON.parse(status.stdout);
    expect(report.agent.running).toBe(false);
    expect(report.windows.sent).toBeGreaterThanOrEqual(3);
    expect(report.last_send.outcome).toBe("sent");
  }, 30_000);

  test("offline, then `send`: every queued window goes", async () => {
    server = startServer();
    const { start, cli, cliAsync } = setup(server.url);
    const agent = start("-o");
    await Bun.sleep(7_500);
    agent.kill("SIGTERM");
    const code = await agent.exited;
    if (code !== 0) console.error(await new Response(agent.stderr as ReadableStream).text());
    expect(code).toBe(0);
    expect(server.received).toHaveLength(0);
    const pending = JSON.parse(cli("status", "--format", "json").stdout).windows.pending;
    expect(pending).toBeGreaterThanOrEqual(2);
    const send = await cliAsync("send");
    if (send.exitCode !== 0) console.error(send.stdout, send.stderr);
    expect(send.exitCode).toBe(0);
    expect(send.stdout.trim().split("\n")).toHaveLength(pending);
    expect(send.stdout).toContain("sent (uid srv-");
    expect(deliveries(server)).toHaveLength(pending);
    expect((await cliAsync("send")).stdout).toContain("nothing to send");
  }, 30_000);

  test("kill -9 while a request is in flight: after a restart the window is delivered, with the same Idempotency-Key", async () => {
    server = startServer(() => "hang");
    const { start } = setup(server.url);
    const first = start();
    const deadline = Date.now() + 15_000;
    while (server.received.length === 0 && Date.now() < deadline) await Bun.sleep(100);
    expect(server.received.length).toBe(1);
    first.kill("SIGKILL");
    await first.exited;
    const hung = server.received[0]!;
    server.answer = acceptAll;
    const second = start();
    const until = Date.now() + 15_000;
    while (!server.received.slice(1).some((u) => u.body.aggregation_time === hung.body.aggregation_time) && Date.now() < until) {
      await Bun.sleep(100);
    }
    second.kill("SIGTERM");
    expect(await second.exited).toBe(0);
    const again = server.received.slice(1).filter((u) => u.body.aggregation_time === hung.body.aggregation_time);
    expect(again).toHaveLength(1);
    expect(again[0]!.headers["idempotency-key"]).toBe(hung.headers["idempotency-key"]);
    const times = deliveries(server).slice(1);
    expect(new Set(times).size).toBe(times.length);
  }, 40_000);
});

describe("the network around the server", () => {
  test("HTTP_PROXY is honoured: the upload goes through the proxy to a host this machine cannot resolve", async () => {
    // This server plays the proxy: it receives the absolute URL of the real target.
    let proxiedUrl = "";
    const proxy = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(request) {
        proxiedUrl = request.url;
        return Response.json({ uid: "via-proxy", params: await request.json() });
      },
    });
    try {
      const { config, dir, start } = setup("http://metrics.gpu-monitor.invalid/api/metrics");
      const agent = start("-o");
      await Bun.sleep(4_500);
      agent.kill("SIGTERM");
      expect(await agent.exited).toBe(0);
      const send = await runBinaryAsync(["send", "-c", config], { HTTP_PROXY: `http://127.0.0.1:${proxy.port}` }, dir);
      expect(send.stdout).toContain("sent (uid via-proxy)");
      expect(proxiedUrl).toBe("http://metrics.gpu-monitor.invalid/api/metrics");
    } finally {
      proxy.stop(true);
    }
  }, 30_000);
});
