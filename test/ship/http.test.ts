// One upload attempt against real HTTP servers on 127.0.0.1, failing in each way.

import { afterEach, describe, expect, test } from "bun:test";
import { sendUpload, type UploadTarget } from "../../src/ship/http.ts";
import { acceptAll, privateCa, refusedUrl, startClosingServer, startServer, type TestServer } from "../helpers/server.ts";

const body = { contract_number: "12345", aggregation_time: "2024-03-20T14:00:00Z", period_seconds: 3600, gpus: [{ uid: "GPU-1", temperature: 41 }] };
let server: TestServer | null = null;
afterEach(() => server?.stop());

function target(url: string, extra: Partial<UploadTarget> = {}): UploadTarget {
  return { url, timeoutSeconds: 2, userAgent: "gpu_monitor/test", contractNumber: "12345", ...extra };
}

describe("an upload", () => {
  test("success: headers as the contract says, the server's uid recorded", async () => {
    server = startServer();
    const result = await sendUpload(target(server.url, { token: "s3cr3t" }), body, "key-1");
    expect(result).toMatchObject({ outcome: "sent", serverUid: "srv-2024-03-20T14:00:00Z", httpStatus: 200, error: null });
    const headers = server.received[0]!.headers;
    expect(headers["content-type"]).toBe("application/json");
    expect(headers["x-contract-number"]).toBe("12345");
    expect(headers["user-agent"]).toBe("gpu_monitor/test");
    expect(headers["idempotency-key"]).toBe("key-1");
    expect(headers.authorization).toBe("Bearer s3cr3t");
    expect(server.received[0]!.body).toEqual(body);
  });

  test("no token, no Authorization header", async () => {
    server = startServer();
    await sendUpload(target(server.url), body, "k");
    expect(server.received[0]!.headers.authorization).toBeUndefined();
  });

  for (const [status, outcome] of [[500, "retryable"], [503, "retryable"], [400, "fatal"]] as const) {
    test(`HTTP ${status} is ${outcome}`, async () => {
      server = startServer(() => new Response("nope", { status }));
      expect(await sendUpload(target(server.url), body, "k")).toMatchObject({ outcome, httpStatus: status, error: `server answered ${status}: nope` });
    });
  }

  test("429 with Retry-After", async () => {
    server = startServer(() => new Response("slow down", { status: 429, headers: { "Retry-After": "17" } }));
    expect(await sendUpload(target(server.url), body, "k")).toMatchObject({ outcome: "retryable", retryAfterSeconds: 17 });
  });

  test("a server that never answers: timeout, retryable", async () => {
    server = startServer(() => "hang");
    const result = await sendUpload(target(server.url, { timeoutSeconds: 0.3 }), body, "k");
    expect(result).toMatchObject({ outcome: "retryable", error: "no reply within 0.3 s (timeout)", httpStatus: null });
    expect(result.latencyMs).toBeGreaterThanOrEqual(250);
  });

  test("a slow server within the timeout is fine", async () => {
    server = startServer(async (upload) => {
      await Bun.sleep(400);
      return acceptAll(upload);
    });
    expect((await sendUpload(target(server.url), body, "k")).outcome).toBe("sent");
  });

  test("connection refused", async () => {
    expect(await sendUpload(target(await refusedUrl()), body, "k")).toMatchObject({ outcome: "retryable", error: "connection refused" });
  });

  test("connection closed without a reply", async () => {
    const closing = startClosingServer();
    try {
      const result = await sendUpload(target(closing.url), body, "k");
      expect(result.outcome).toBe("retryable");
      expect(result.error).toBe("connection closed before a reply");
      expect(closing.connections()).toBeGreaterThanOrEqual(1);
    } finally {
      closing.stop();
    }
  });

  for (const [reply, error] of [
    ["<html>ok</html>", "reply is not JSON: <html>ok</html>"],
    ["[]", "reply is not a JSON object (an array)"],
    ['{"status":"ok"}', "reply misses uid"],
    ['{"uid":""}', "reply has an empty uid"],
  ] as const) {
    test(`reply ${reply}: fatal, "${error}"`, async () => {
      server = startServer(() => new Response(reply, { status: 200 }));
      expect(await sendUpload(target(server.url), body, "k")).toMatchObject({ outcome: "fatal", error });
    });
  }

  test("an echo that differs in one value", async () => {
    server = startServer((upload) => {
      const params = structuredClone(upload.body);
      params.gpus[0].temperature = 42;
      return Response.json({ uid: "x", params });
    });
    expect(await sendUpload(target(server.url), body, "k")).toMatchObject({ outcome: "fatal", error: "server echoed different data at gpus[0].temperature" });
  });

  test("TLS with a private CA: refused without server.ca_file, accepted with it", async () => {
    const ca = privateCa();
    server = startServer(acceptAll, { cert: ca.cert, key: ca.key });
    const without = await sendUpload(target(server.url), body, "k");
    expect(without.outcome).toBe("fatal");
    expect(without.error).toContain("TLS failed");
    const withCa = await sendUpload(target(server.url, { caFile: ca.caFile }), body, "k");
    expect(withCa).toMatchObject({ outcome: "sent", httpStatus: 200 });
  });

  test("the token never appears in an error", async () => {
    const result = await sendUpload(target(`http://user:pw@127.0.0.1:1/x`, { token: "s3cr3t" }), body, "k");
    expect(JSON.stringify(result)).not.toContain("s3cr3t");
    expect(JSON.stringify(result)).not.toContain("user:pw");
  });
});
