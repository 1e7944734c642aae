// One HTTP attempt at one window: ok, retryable or fatal, with a reason. The
// ledger and the retry policy live elsewhere (shipper.ts).

import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import { parseRetryAfter, verifyReply, type Verdict } from "./verify.ts";

export interface UploadTarget {
  url: string;
  token?: string | undefined;
  contractNumber?: string | undefined;
  timeoutSeconds: number;
  /** A private CA (PEM) trusted in addition to the system's. */
  caFile?: string | undefined;
  userAgent: string;
}

export interface AttemptResult extends Verdict {
  httpStatus: number | null;
  latencyMs: number;
}

export type FetchFunction = (url: string, init: RequestInit & { tls?: { ca?: string[] } }) => Promise<Response>;

export async function sendUpload(
  target: UploadTarget,
  body: unknown,
  idempotencyKey: string,
  stop?: AbortSignal,
  fetchImpl: FetchFunction = fetch as unknown as FetchFunction,
): Promise<AttemptResult> {
  const text = JSON.stringify(body);
  const headers: Record<string, string> = {
    "Content-Type": "application/json",
    "User-Agent": target.userAgent,
    "Idempotency-Key": idempotencyKey,
  };
  if (target.contractNumber) headers["X-Contract-Number"] = target.contractNumber;
  if (target.token) headers.Authorization = `Bearer ${target.token}`;
  const started = performance.now();
  try {
    const response = await fetchImpl(target.url, {
      method: "POST",
      headers,
      body: text,
      redirect: "manual",
      signal: stop
        ? AbortSignal.any([AbortSignal.timeout(target.timeoutSeconds * 1000), stop])
        : AbortSignal.timeout(target.timeoutSeconds * 1000),
      ...(target.caFile ? { tls: { ca: [...rootCertificates, readFileSync(target.caFile, "utf8")] } } : {}),
    });
    const reply = await response.text();
    const retryAfter = parseRetryAfter(response.headers.get("retry-after"), Date.now());
    return { ...verifyReply(response.status, reply, body, retryAfter), httpStatus: response.status, latencyMs: elapsed(started) };
  } catch (error) {
    if (stop?.aborted) {
      // The server may have it already: the next attempt carries the same Idempotency-Key.
      return { outcome: "retryable", error: "interrupted by shutdown", serverUid: null, retryAfterSeconds: null, httpStatus: null, latencyMs: elapsed(started) };
    }
    const { outcome, reason } = describeNetworkError(error, target);
    return { outcome, error: redact(reason, target), serverUid: null, retryAfterSeconds: null, httpStatus: null, latencyMs: elapsed(started) };
  }
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}

/** Network trouble is worth retrying; a certificate the system does not trust needs a person. */
export function describeNetworkError(error: unknown, target: UploadTarget): { outcome: "retryable" | "fatal"; reason: string } {
  const err = error as { name?: string; code?: string; message?: string };
  const code = err.code ?? "";
  const message = err.message ?? String(error);
  if (err.name === "TimeoutError" || code === "ETIMEDOUT" || /timed? ?out/i.test(message)) {
    return { outcome: "retryable", reason: `no reply within ${target.timeoutSeconds} s (timeout)` };
  }
  if (code === "ConnectionRefused" || code === "ECONNREFUSED") return { outcome: "retryable", reason: "connection refused" };
  if (code === "ECONNRESET" || code === "ConnectionClosed" || /closed|reset|socket hang up/i.test(message)) {
    return { outcome: "retryable", reason: "connection closed before a reply" };
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN" || /dns|getaddrinfo|resolve/i.test(message)) {
    return { outcome: "retryable", reason: `cannot resolve the server's name (${code || message})` };
  }
  if (/certificate|self.signed|CERT_|SSL|TLS/i.test(code + message)) {
    return { outcome: "fatal", reason: `TLS failed: ${message}${code ? ` (${code})` : ""}; set server.ca_file for a private CA` };
  }
  return { outcome: "retryable", reason: `request failed: ${message}${code ? ` (${code})` : ""}` };
}

/** A warning for plain http:// to anything but this machine, or null. */
export function plainHttpWarning(url: string): string | null {
  const parsed = new URL(url);
  if (parsed.protocol !== "http:") return null;
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  const loopback = host === "localhost" || host === "::1" || /^127\./.test(host);
  return loopback ? null : `server.url uses plain http:// to ${host}: uploads and the token travel unencrypted; use https://`;
}

/** Never let the token or URL credentials reach a log or the ledger. */
export function redact(text: string, target: Pick<UploadTarget, "token" | "url">): string {
  let out = text;
  if (target.token) out = out.replaceAll(target.token, "[token]");
  return redactUrlCredentials(out);
}

export function redactUrlCredentials(text: string): string {
  return text.replace(/(\w+:\/\/)[^/\s:@]+(?::[^/\s@]*)?@/g, "$1[credentials]@");
}
