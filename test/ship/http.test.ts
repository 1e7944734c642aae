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

describe("a hostile or broken server", () => {
  test("an error body that echoes our Authorization header keeps the token out of the error", async () => {
    server = startServer((upload) => new Response(`denied: authorization: ${upload.headers.authorization}`, { status: 401 }));
    const result = await sendUpload(target(server.url, { token: "s3cr3t-t0ken" }), body, "k");
    expect(result.outcome).toBe("fatal");
    expect(result.error).toBe("server answered 401: denied: authorization: Bearer [token]");
  });

  test("Basic credentials made from the URL's password, echoed back, are redacted too", async () => {
    server = startServer(() => new Response(`who is ${Buffer.from("agent:pa55word").toString("base64")} / pa55word?`, { status: 403 }));
    const result = await sendUpload(target(server.url.replace("http://", "http://agent:pa55word@")), body, "k");
    expect(result.error).not.toContain("pa55word");
    expect(result.error).not.toContain(Buffer.from("agent:pa55word").toString("base64"));
    expect(result.error).toBe("server answered 403: who is [credentials] / [password]?");
  });

  test("a short URL password does not garble the echo of a body that happens to contain it", async () => {
    server = startServer((upload) => Response.json({ uid: "u-2", params: upload.body }));
    const result = await sendUpload(target(server.url.replace("http://", "http://agent:41@")), body, "k");
    expect(result).toMatchObject({ outcome: "sent", serverUid: "u-2", error: null });
  });

  test("at most 512 bytes of an error body are kept, the token redacted before it is cut", async () => {
    server = startServer(() => new Response(`${"x".repeat(490)} s3cr3t-t0ken ${"y".repeat(100_000)}`, { status: 500 }));
    const result = await sendUpload(target(server.url, { token: "s3cr3t-t0ken" }), body, "k");
    expect(result.outcome).toBe("retryable");
    expect(result.error!.startsWith("server answered 500: xxx")).toBe(true);
    expect(Buffer.byteLength(result.error!)).toBeLessThanOrEqual("server answered 500: ".length + 512);
    expect(result.error).not.toContain("s3cr3t");
    expect(result.error).not.toContain("s3c");
  });

  test("a reply that never ends is read up to 1 MiB, then refused as too large (retryable)", async () => {
    let sentBytes = 0;
    server = startServer(
      () =>
        new Response(
          new ReadableStream({
            pull(controller) {
              sentBytes += 65_536;
              controller.enqueue(new Uint8Array(65_536).fill(0x61));
            },
          }),
          { status: 200 },
        ),
    );
    const result = await sendUpload(target(server.url, { timeoutSeconds: 20 }), body, "k");
    expect(result).toMatchObject({ outcome: "retryable", httpStatus: 200, error: "reply too large (more than 1 MiB, HTTP 200)" });
    expect(result.latencyMs).toBeLessThan(10_000);
  });

  test("a reply just under 1 MiB is read whole", async () => {
    server = startServer((upload) => Response.json({ uid: "u-1", params: upload.body, padding: "p".repeat(1024 * 1024 - 500) }));
    expect(await sendUpload(target(server.url), body, "k")).toMatchObject({ outcome: "sent", serverUid: "u-1" });
  });

  for (const [uid, error] of [
    ["u".repeat(257), "reply's uid is longer than 256 characters (257)"],
    ["\x1b[2J\r\nFAKE LINE | 1 | x", "reply's uid holds control characters"],
    ["ok\u202eevil", "reply's uid holds control characters"],
  ] as const) {
    test(`a uid like ${JSON.stringify(uid.slice(0, 20))} is an invalid reply (fatal)`, async () => {
      server = startServer((upload) => Response.json({ uid, params: upload.body }));
      expect(await sendUpload(target(server.url), body, "k")).toMatchObject({ outcome: "fatal", serverUid: null, error });
    });
  }

  test("a uid of 256 characters is accepted", async () => {
    server = startServer((upload) => Response.json({ uid: "u".repeat(256), params: upload.body }));
    expect(await sendUpload(target(server.url), body, "k")).toMatchObject({ outcome: "sent", serverUid: "u".repeat(256) });
  });
});
