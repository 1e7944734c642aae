// The metrics server on 127.0.0.1: what it serves, basic auth against bcrypt
// hashes, TLS with a private CA, and its address parsing.

import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MetricsRecorder } from "../../src/prometheus/recorder.ts";
import { isLoopback, MetricsListenError, parseListen, startMetricsServer, type MetricsServer } from "../../src/prometheus/server.ts";
import { gpuSample } from "../helpers/samples.ts";
import { privateCa } from "../helpers/server.ts";

let server: MetricsServer | null = null;
afterEach(() => {
  server?.stop();
  server = null;
});

function recorder(): MetricsRecorder {
  const metrics = new MetricsRecorder("host-a", "1.2.3");
  metrics.driver("550.54.15");
  metrics.tick(1_765_000_000, [gpuSample()], []);
  return metrics;
}

function start(options: { basicAuth?: Record<string, string>; tlsCert?: string; tlsKey?: string } = {}, metrics = recorder()): MetricsServer {
  server = startMetricsServer({ listen: "127.0.0.1:0", ...options, state: () => metrics.state(), onScrape: () => metrics.scraped() });
  return server;
}

describe("the metrics server", () => {
  test("serves /metrics from memory and counts each scrape; / links it; other paths 404; other methods 405", async () => {
    const metrics = recorder();
    const { url } = start({}, metrics);
    const first = await (await fetch(`${url}/metrics`)).text();
    expect(first).toContain('DCGM_FI_DEV_GPU_UTIL{gpu="0"');
    expect(first).toContain("gpu_monitor_scrapes_total 1\n");
    expect(await (await fetch(`${url}/metrics`)).text()).toContain("gpu_monitor_scrapes_total 2\n");
    // a new tick shows at the next scrape
    metrics.tick(1_765_000_060, [gpuSample({ gpuUtilizationPercent: 3 })], []);
    expect(await (await fetch(`${url}/metrics`)).text()).toMatch(/DCGM_FI_DEV_GPU_UTIL\{[^}]*\} 3\n/);
    expect(await (await fetch(`${url}/`)).text()).toContain('href="/metrics"');
    expect((await fetch(`${url}/metric`)).status).toBe(404);
    expect((await fetch(`${url}/metrics`, { method: "POST" })).status).toBe(405);
  });

  test("basic auth against a bcrypt hash ($2y$ as htpasswd writes it, or $2b$)", async () => {
    const hash = await Bun.password.hash("s3cret", { algorithm: "bcrypt", cost: 4 });
    const { url } = start({ basicAuth: { scraper: hash.replace(/^\$2b\$/, "$2y$") } });
    const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` });
    const refused = await fetch(`${url}/metrics`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toBe('Basic realm="gpu_monitor"');
    expect((await fetch(`${url}/metrics`, { headers: basic("scraper", "wrong") })).status).toBe(401);
    expect((await fetch(`${url}/metrics`, { headers: basic("other", "s3cret") })).status).toBe(401);
    expect((await fetch(`${url}/metrics`, { headers: basic("scraper", "s3cret") })).status).toBe(200);
    expect((await fetch(`${url}/metrics`, { headers: basic("scraper", "s3cret") })).status).toBe(200); // again, from the remembered pair
    expect((await fetch(`${url}/metrics`, { headers: basic("scraper", "s3cret!") })).status).toBe(401);
  });

  test("TLS with the configured certificate and key", async () => {
    const ca = privateCa();
    const dir = mkdtempSync(join(tmpdir(), "metrics-tls-"));
    writeFileSync(join(dir, "cert.pem"), ca.cert);
    writeFileSync(join(dir, "key.pem"), ca.key);
    const { url } = start({ tlsCert: join(dir, "cert.pem"), tlsKey: join(dir, "key.pem") });
    expect(url).toStartWith("https://127.0.0.1:");
    const reply = await fetch(`${url}/metrics`, { tls: { ca: readFileSync(ca.caFile, "utf8") } });
    expect(reply.status).toBe(200);
    const untrusted = await fetch(`${url}/metrics`).then(() => "accepted", () => "refused");
    expect(untrusted).toBe("refused"); // a client without the CA does not trust it
  });

  test("a port in use is an error naming the address", () => {
    const { url } = start();
    const port = new URL(url).port;
    const again = () => startMetricsServer({ listen: `127.0.0.1:${port}`, state: () => recorder().state(), onScrape: () => {} });
    expect(again).toThrow(MetricsListenError);
    expect(again).toThrow(`metrics endpoint could not listen on 127.0.0.1:${port}`);
  });
});

describe("addresses", () => {
  test("host:port, [v6]:port and :port (every address); loopback told apart", () => {
    expect(parseListen("127.0.0.1:9400")).toEqual({ hostname: "127.0.0.1", port: 9400 });
    expect(parseListen("[::1]:9400")).toEqual({ hostname: "::1", port: 9400 });
    expect(parseListen(":9400")).toEqual({ hostname: "0.0.0.0", port: 9400 });
    expect(() => parseListen("9400")).toThrow(MetricsListenError);
    expect(() => parseListen("host:99999")).toThrow(MetricsListenError);
    expect(["127.0.0.1", "127.8.0.1", "::1", "localhost"].every(isLoopback)).toBe(true);
    expect(["0.0.0.0", "10.0.0.5", "::", "gpu-host"].some(isLoopback)).toBe(false);
  });
});
