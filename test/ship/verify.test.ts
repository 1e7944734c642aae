import { describe, expect, test } from "bun:test";
import { retryDelaySeconds } from "../../src/ship/backoff.ts";
import { plainHttpWarning, redact } from "../../src/ship/http.ts";
import { idempotencyKey, uploadBody } from "../../src/ship/payload.ts";
import { firstDifference, parseRetryAfter, verifyReply } from "../../src/ship/verify.ts";

const sent = { contract_number: "12345", gpus: [{ uid: "GPU-1", temperature: 41.5 }, { uid: "GPU-2", temperature: 40 }] };

describe("the server's reply", () => {
  test("2xx with a JSON object holding a uid is success", () => {
    expect(verifyReply(200, '{"uid":"abc123"}', sent)).toEqual({ outcome: "sent", error: null, serverUid: "abc123", retryAfterSeconds: null });
    expect(verifyReply(201, '{"uid": 42}', sent).serverUid).toBe("42");
  });
  test("an echo of the body is checked as JSON values: key order ignored, numbers as numbers", () => {
    const echo = '{"uid":"u","params":{"gpus":[{"temperature":41.50,"uid":"GPU-1"},{"uid":"GPU-2","temperature":40.0}],"contract_number":"12345"}}';
    expect(verifyReply(200, echo, sent).outcome).toBe("sent");
  });
  test("an echo that differs in one value names where", () => {
    const echo = '{"uid":"u","params":{"contract_number":"12345","gpus":[{"uid":"GPU-1","temperature":41.5},{"uid":"GPU-2","temperature":39}]}}';
    expect(verifyReply(200, echo, sent)).toMatchObject({ outcome: "fatal", error: "server echoed different data at gpus[1].temperature" });
    expect(firstDifference({ a: "1" }, { a: 1 }, "")).toBe("a"); // a string is not a number
    expect(firstDifference({ a: 1 }, { a: 1, b: 2 }, "")).toBe("b");
  });
  test("failures a person understands", () => {
    expect(verifyReply(503, "down for maintenance", sent)).toMatchObject({ outcome: "retryable", error: "server answered 503: down for maintenance" });
    expect(verifyReply(500, "", sent)).toMatchObject({ outcome: "retryable", error: "server answered 500" });
    expect(verifyReply(429, "", sent, 30)).toMatchObject({ outcome: "retryable", retryAfterSeconds: 30 });
    expect(verifyReply(408, "", sent).outcome).toBe("retryable");
    expect(verifyReply(400, '{"error":"bad"}', sent)).toMatchObject({ outcome: "fatal", error: 'server answered 400: {"error":"bad"}' });
    expect(verifyReply(404, "", sent).outcome).toBe("fatal");
    expect(verifyReply(200, "<html>ok</html>", sent)).toMatchObject({ outcome: "fatal", error: "reply is not JSON: <html>ok</html>" });
    expect(verifyReply(200, "[1,2]", sent)).toMatchObject({ outcome: "fatal", error: "reply is not a JSON object (an array)" });
    expect(verifyReply(200, '{"id":"x"}', sent)).toMatchObject({ outcome: "fatal", error: "reply misses uid" });
    expect(verifyReply(200, '{"uid":""}', sent)).toMatchObject({ outcome: "fatal", error: "reply has an empty uid" });
  });
  test("Retry-After in seconds or as a date", () => {
    expect(parseRetryAfter("120", 0)).toBe(120);
    expect(parseRetryAfter(new Date(60_000).toUTCString(), 0)).toBe(60);
    expect(parseRetryAfter("soon", 0)).toBeNull();
    expect(parseRetryAfter(null, 0)).toBeNull();
  });
});

describe("backoff", () => {
  const settings = { initialSeconds: 60, maxSeconds: 3600 };
  test("full jitter under an exponential ceiling", () => {
    expect(retryDelaySeconds(1, settings, 1)).toBe(60);
    expect(retryDelaySeconds(2, settings, 1)).toBe(120);
    expect(retryDelaySeconds(3, settings, 0.5)).toBe(120);
    expect(retryDelaySeconds(20, settings, 1)).toBe(3600);
    expect(retryDelaySeconds(5, settings, 0)).toBe(0);
  });
  test("Retry-After is a floor", () => {
    expect(retryDelaySeconds(1, settings, 0.1, 300)).toBe(300);
    expect(retryDelaySeconds(8, settings, 1, 5)).toBe(3600);
  });
});

describe("the upload body", () => {
  test("carries the contract, the window in UTC, the period, the host and the GPUs", () => {
    const body = uploadBody(1710943200, 3600, "12345", { hostname: "gpu-07", machineId: "m1", agentVersion: "0.1.0", driverVersion: "550.54.15" }, []);
    expect(body).toEqual({
      contract_number: "12345",
      aggregation_time: "2024-03-20T14:00:00Z",
      period_seconds: 3600,
      host: { hostname: "gpu-07", machine_id: "m1", agent_version: "0.1.0", driver_version: "550.54.15" },
      gpus: [],
    });
  });
  test("the idempotency key is stable per host and window", () => {
    expect(idempotencyKey("m1", 1000)).toBe(idempotencyKey("m1", 1000));
    expect(idempotencyKey("m1", 1000)).not.toBe(idempotencyKey("m1", 4600));
    expect(idempotencyKey("m1", 1000)).not.toBe(idempotencyKey("m2", 1000));
  });
});

describe("secrets", () => {
  test("the token and URL credentials are redacted", () => {
    expect(redact("failed with Bearer s3cr3t at https://bob:pw@example.com/x", { token: "s3cr3t", url: "" })).toBe(
      "failed with Bearer [token] at https://[credentials]@example.com/x",
    );
  });
  test("plain http to another host draws a warning; loopback and https do not", () => {
    expect(plainHttpWarning("http://metrics.example.com/api")).toContain("plain http:// to metrics.example.com");
    expect(plainHttpWarning("http://127.0.0.1:8080/api")).toBeNull();
    expect(plainHttpWarning("http://localhost/api")).toBeNull();
    expect(plainHttpWarning("https://metrics.example.com/api")).toBeNull();
  });
});
