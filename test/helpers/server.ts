// A central server on 127.0.0.1 whose answers a test decides, recording every request.

import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface ReceivedUpload {
  headers: Record<string, string>;
  body: any;
  at: number;
}

export type Answer = Response | "hang" | Promise<Response>;

export interface TestServer {
  url: string;
  received: ReceivedUpload[];
  /** Decides the answer to the n-th request (0-based). */
  answer: (request: ReceivedUpload, n: number) => Answer;
  stop(): void;
}

/** Echoes the body back with a fresh uid, as the original server does. */
export function acceptAll(upload: ReceivedUpload): Response {
  return Response.json({ uid: `srv-${upload.body.aggregation_time}`, params: upload.body });
}

export function startServer(answer: TestServer["answer"] = acceptAll, tls?: { cert: string; key: string }): TestServer {
  const state: TestServer = {
    url: "",
    received: [],
    answer,
    stop: () => server.stop(true),
  };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    ...(tls ? { tls } : {}),
    async fetch(request) {
      const upload: ReceivedUpload = {
        headers: Object.fromEntries(request.headers.entries()),
        body: await request.json().catch(() => null),
        at: Date.now(),
      };
      const n = state.received.length;
      state.received.push(upload);
      const reply = await state.answer(upload, n);
      if (reply === "hang") return new Promise<Response>(() => {});
      return reply;
    },
  });
  state.url = `${tls ? "https" : "http"}://127.0.0.1:${server.port}/api/metrics`;
  return state;
}

/** A TCP server that reads the request and closes the connection without a reply. */
export function startClosingServer(): { url: string; connections: () => number; stop(): void } {
  let connections = 0;
  const listener = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(socket) {
        connections++;
        socket.end();
      },
    },
  });
  return { url: `http://127.0.0.1:${listener.port}/api`, connections: () => connections, stop: () => listener.stop(true) };
}

/** A port on 127.0.0.1 nothing listens on now. */
export function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

/** A port nothing listens on. */
export async function refusedUrl(): Promise<string> {
  return `http://127.0.0.1:${freePort()}/api`;
}

/** A private CA and a certificate for 127.0.0.1 signed by it (openssl). */
export function privateCa(): { caFile: string; cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), "gpu-monitor-ca-"));
  mkdirSync(dir, { recursive: true });
  const run = (args: string[]) => {
    const result = Bun.spawnSync(["openssl", ...args], { cwd: dir, stderr: "pipe" });
    if (result.exitCode !== 0) throw new Error(`openssl ${args[0]} failed: ${result.stderr}`);
  };
  run(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=gpu_monitor test CA"]);
  run(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]);
  writeFileSync(join(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  run(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf"]);
  return { caFile: join(dir, "ca.pem"), cert: readFileSync(join(dir, "server.pem"), "utf8"), key: readFileSync(join(dir, "server.key"), "utf8") };
}
