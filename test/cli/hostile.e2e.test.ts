// Hostile text from outside (a server's uid and error body, a GPU's name, a
// process name) through the compiled binary: shown escaped in every text output
// and log line, secrets redacted, replies read with a bound.

import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { aggregateClosedWindows } from "../../src/aggregate/aggregator.ts";
import { Store } from "../../src/store/store.ts";
import { compiledBinary, runBinary, runBinaryAsync, spawnAgent } from "../helpers/binary.ts";
import { fakeNvmlLibrary, scenarioFile, writeScenario } from "../helpers/fakeNvml.ts";
import { gpuSample, writeTick } from "../helpers/samples.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const FORGED = "\x1b[2J\r\nFAKE LINE | 1 | x";
const TITLE = "\x1b]0;pwned\x07";
/** Raw control characters a terminal would obey (a tab or newline of our own layout aside). */
const RAW_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

let server: TestServer | null = null;
afterEach(() => server?.stop());
beforeAll(() => compiledBinary());

function folderWithConfig(server: Record<string, unknown> = {}) {
  const dir = mkdtempSync(join(tmpdir(), "gpu-monitor-hostile-"));
  const config = join(dir, "config.json");
  writeFileSync(
    config,
    JSON.stringify({
      server,
      collection: { interval_seconds: 1, aggregation_interval_seconds: 3 },
      database: { file: "gpu_metrics.db" },
      logging: { file: "agent.log" },
    }),
  );
  return { dir, config };
}

describe("control characters in what we print", () => {
  test("a stored uid and error text with escapes (an older release accepted them) are shown escaped by -ls, -ss, status and CSV", () => {
    const { dir, config } = folderWithConfig({ url: "http://127.0.0.1:9/api" });
    const store = Store.open(join(dir, "gpu_metrics.db"));
    for (let t = 999; t < 1009; t++) writeTick(store, t, [gpuSample({ name: `H100 ${TITLE}` })]);
    aggregateClosedWindows(store, 1009, { periodSeconds: 3, intervalSeconds: 1 });
    store.ledger.recordAttempt(
      { window_start: 999, attempted_at: 1010, outcome: "sent", http_status: 200, error: null, server_uid: FORGED, latency_ms: 3 },
      { state: "sent", nextAttemptAt: null, fatalCount: 0 },
    );
    store.ledger.recordAttempt(
      { window_start: 1002, attempted_at: 1011, outcome: "fatal", http_status: 400, error: `server answered 400: ${FORGED}`, server_uid: null, latency_ms: 3 },
      { state: "failed", nextAttemptAt: null, fatalCount: 10 },
    );
    store.close();
    const env = { TZ: "UTC" };
    const outputs = {
      ls: runBinary(["-ls", "-c", config], env, dir),
      ssSent: runBinary(["-ss", "1970-01-01T00:16:39Z", "-c", config], env, dir),
      ssFailed: runBinary(["-ss", "1970-01-01T00:16:42Z", "-c", config], env, dir),
      status: runBinary(["status", "-c", config], env, dir),
      windowCsv: runBinary(["-sc", "1970-01-01T00:16:39Z", "-f", "csv", "-c", config], env, dir),
      exportCsv: runBinary(["export", "--from", "1970-01-01T00:16:00Z", "--to", "1970-01-01T00:17:00Z", "--format", "csv", "-c", config], env, dir),
    };
    for (const [name, run] of Object.entries(outputs)) {
      expect({ name, raw: RAW_CONTROL.test(run.stdout + run.stderr) }).toEqual({ name, raw: false });
      expect({ name, forged: run.stdout.split("\n").some((line) => line.startsWith("FAKE LINE")) }).toEqual({ name, forged: false });
    }
    expect(outputs.ls.stdout).toContain("1970-01-01T00:16:39+00:00 | 1 | 1970-01-01T00:16:50+00:00 | 1970-01-01T00:16:50+00:00 | None | \\x1b[2J\\x0d\\x0aFAKE LINE | 1 | x | 1");
    expect(outputs.ssSent.stdout).toContain("UID: \\x1b[2J\\x0d\\x0aFAKE LINE | 1 | x");
    expect(outputs.ssFailed.stdout).toContain("Last Error: server answered 400: \\x1b[2J\\x0d\\x0aFAKE LINE | 1 | x");
    expect(outputs.status.stdout).toContain("GPUs seen:    1 (H100 \\x1b]0;pwned\\x07)");
    expect(outputs.status.stdout).toContain("Last send:    1970-01-01T00:16:42+00:00 fatal: server answered 400: \\x1b[2J\\x0d\\x0aFAKE LINE | 1 | x at");
    expect(outputs.windowCsv.stdout).toContain(",H100 \\x1b]0;pwned\\x07,");
    expect(outputs.exportCsv.stdout).toContain(",H100 \\x1b]0;pwned\\x07,");
    // JSON stays JSON: the escapes are JSON's own.
    const json = JSON.parse(runBinary(["-ls", "-f", "json", "-c", config], env, dir).stdout);
    expect(json.find((row: { uid: string | null }) => row.uid !== null).uid).toBe(FORGED);
  });

  test("snapshot: a GPU name and a process name that would set the terminal's title are escaped in the table and the CSV", () => {
    const dir = mkdtempSync(join(tmpdir(), "gpu-monitor-hostile-"));
    // A real process whose name (its file's name) holds the escape.
    const program = join(dir, "\x1b]0;x\x07");
    copyFileSync("/bin/sleep", program);
    Bun.spawnSync(["chmod", "755", program]);
    const child = Bun.spawn([program, "30"]);
    try {
      const scenario = readFileSync(scenarioFile("rtx4090"), "utf8")
        .replace("gpu0.name = NVIDIA GeForce RTX 4090", `gpu0.name = RTX ${TITLE}\u202eevil`)
        .replace("gpu0.processes.compute = 45122:939524096", `gpu0.processes.compute = ${child.pid}:939524096`);
      const env = { GPU_MONITOR_NVML_LIBRARY: fakeNvmlLibrary("current"), FAKE_NVML_SCENARIO: writeScenario(scenario) };
      const table = runBinary(["snapshot"], env, dir);
      const csv = runBinary(["snapshot", "--format", "csv"], env, dir);
      for (const run of [table, csv]) {
        expect(run.exitCode).toBe(0);
        expect(RAW_CONTROL.test(run.stdout + run.stderr)).toBe(false);
      }
      expect(table.stdout).toContain("RTX \\x1b]0;pwned\\x07\\u202eevil");
      expect(table.stdout).toMatch(new RegExp(`${child.pid}  C     \\\\x1b\\]0;x\\\\x07 `));
      expect(csv.stdout).toContain(",RTX \\x1b]0;pwned\\x07\\u202eevil,");
      expect(csv.stdout).toContain(`${child.pid}:C:939524096:\\x1b]0;x\\x07`);
      const json = JSON.parse(runBinary(["snapshot", "--format", "json"], env, dir).stdout);
      expect(json.gpus[0].name).toBe(`RTX ${TITLE}\u202eevil`);
    } finally {
      child.kill();
    }
  });
});

describe("a server's reply is redacted, bounded and checked", () => {
  test("a 401 echoing the Authorization header, with escapes in it: the token is in no log line, -ls, -ss or status; the escapes are escaped", async () => {
    const token = "tok-9f8e7d6c5b4a";
    server = startServer((upload) => new Response(`${FORGED} rejected ${upload.headers.authorization}`, { status: 401 }));
    const { dir, config } = folderWithConfig({ url: server.url, token, retry_initial_seconds: 1, retry_max_seconds: 1 });
    const env = { GPU_MONITOR_NVML_LIBRARY: fakeNvmlLibrary("current"), FAKE_NVML_SCENARIO: scenarioFile("h100") };
    const agent = spawnAgent(["run", "-c", config], env, dir);
    expect(await agent.waitFor("not sent: server answered 401", 15_000)).toBe(true);
    const { log } = await agent.stop();
    const file = readFileSync(join(dir, "agent.log"), "utf8");
    const outputs = [
      log,
      file,
      (await runBinaryAsync(["-ls", "-c", config], env, dir)).stdout,
      (await runBinaryAsync(["-ls", "-f", "json", "-c", config], env, dir)).stdout,
      (await runBinaryAsync(["status", "-c", config], env, dir)).stdout,
      (await runBinaryAsync(["status", "-f", "json", "-c", config], env, dir)).stdout,
    ];
    const window = JSON.parse(outputs[3]!)[0].aggregation_time;
    outputs.push((await runBinaryAsync(["-ss", window, "-c", config], env, dir)).stdout);
    for (const text of outputs) {
      expect(text).not.toContain(token);
      expect(text).not.toContain("\x1b");
    }
    expect(log).toContain("server answered 401: \\x1b[2J FAKE LINE | 1 | x rejected Bearer [token]");
    expect(outputs[6]).toContain("server answered 401: \\x1b[2J FAKE LINE | 1 | x rejected Bearer [token]");
  }, 30_000);

  test("a 200 MB reply is not read: the attempt fails as too large and is retried; a uid of 300 000 characters is refused", async () => {
    let answers = 0;
    server = startServer(() => {
      answers++;
      if (answers === 1) return new Response(new Uint8Array(200 * 1024 * 1024).fill(0x20), { status: 200 });
      return Response.json({ uid: "u".repeat(300_000) });
    });
    const { dir, config } = folderWithConfig({ url: server.url, retry_initial_seconds: 1, retry_max_seconds: 1 });
    const env = { GPU_MONITOR_NVML_LIBRARY: fakeNvmlLibrary("current"), FAKE_NVML_SCENARIO: scenarioFile("h100") };
    const agent = spawnAgent(["run", "-c", config], env, dir);
    expect(await agent.waitFor("reply's uid is longer than 256 characters", 20_000)).toBe(true);
    const { log } = await agent.stop();
    expect(log).toContain("not sent: reply too large (more than 1 MiB, HTTP 200); next try in");
    const list = JSON.parse((await runBinaryAsync(["-ls", "-f", "json", "-c", config], env, dir)).stdout);
    expect(list.every((row: { uid: string | null }) => row.uid === null)).toBe(true);
    expect(Buffer.byteLength(readFileSync(join(dir, "agent.log")))).toBeLessThan(100_000);
  }, 40_000);

  test("a password in server.url: a readable config warns, and the password is in no log line, ledger view, status or doctor", async () => {
    const password = "pw-5e6f7a8b9c";
    server = startServer((upload) => new Response(`who? ${upload.headers.authorization ?? "no authorization"} ${password}`, { status: 401 }));
    const url = server.url.replace("http://", `http://agent:${password}@`);
    const { dir, config } = folderWithConfig({ url, retry_initial_seconds: 1, retry_max_seconds: 1 });
    chmodSync(config, 0o644);
    const env = { GPU_MONITOR_NVML_LIBRARY: fakeNvmlLibrary("current"), FAKE_NVML_SCENARIO: scenarioFile("h100") };
    const agent = spawnAgent(["run", "-c", config], env, dir);
    expect(await agent.waitFor("not sent: server answered 401", 15_000)).toBe(true);
    const { log } = await agent.stop();
    expect(log).toContain(`config file ${config} holds a password in server.url and others can read it: chmod 600 ${config}`);
    const status = await runBinaryAsync(["status", "-c", config], env, dir);
    expect(status.stderr).toContain("holds a password in server.url and others can read it");
    const outputs = [
      log,
      readFileSync(join(dir, "agent.log"), "utf8"),
      status.stdout,
      (await runBinaryAsync(["status", "-f", "json", "-c", config], env, dir)).stdout,
      (await runBinaryAsync(["-ls", "-c", config], env, dir)).stdout,
      (await runBinaryAsync(["doctor", "-c", config], env, dir)).stdout,
    ];
    for (const text of outputs) {
      expect(text).not.toContain(password);
      expect(text).not.toContain(Buffer.from(`agent:${password}`).toString("base64"));
    }
    expect(outputs[4]).toContain("server answered 401: who?");
  }, 30_000);
});

