// One HTTP attempt at one window: ok, retryable or fatal, with a reason. The
// ledger and the retry policy live elsewhere (shipper.ts).

import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import type { Config } from "../config/schema.ts";
import { VERSION } from "../version.ts";
import { redactUrlCredentials, urlCredentials } from "../util/url.ts";
import { parseRetryAfter, verifyReply, type Verdict } from "./verify.ts";

/** A reply is read up to this many bytes: a valid one is a few kilobytes, a bigger one is refused unread. */
export const MAX_REPLY_BYTES = 1024 * 1024;

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

/** Where and how the agent uploads, from the config (the shipper and `doctor` alike). */
export function uploadTarget(config: Config): UploadTarget {
  if (!config.server.url) throw new Error("an upload target needs server.url");
  return {
    url: config.server.url,
    token: config.server.token,
    contractNumber: config.server.contract_number,
    timeoutSeconds: config.server.timeout_seconds,
    caFile: config.server.ca_file,
    userAgent: `gpu_monitor/${VERSION}`,
  };
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
    const response = await fetchImpl(target.url, { method: "POST", headers, body: text, ...transport(target, stop) });
    const reply = await readBounded(response, MAX_REPLY_BYTES);
    if (reply === null) {
      // Transient: a proxy or a server in trouble may answer properly next time.
      return { outcome: "retryable", error: `reply too large (more than ${MAX_REPLY_BYTES / 1024 / 1024} MiB, HTTP ${response.status})`, serverUid: null, retryAfterSeconds: null, httpStatus: response.status, latencyMs: elapsed(started) };
    }
    const retryAfter = parseRetryAfter(response.headers.get("retry-after"), Date.now());
    // What is kept of the reply is redacted (a server may echo our Authorization header); the
    // reply itself is verified as sent, so a short password cannot garble the echo.
    const verdict = verifyReply(response.status, reply, body, retryAfter, (text) => redact(text, target));
    return { ...verdict, httpStatus: response.status, latencyMs: elapsed(started) };
  } catch (error) {
    if (stop?.aborted) {
      // The server may have it already: the next attempt carries the same Idempotency-Key.
      return { outcome: "retryable", error: "interrupted by shutdown", serverUid: null, retryAfterSeconds: null, httpStatus: null, latencyMs: elapsed(started) };
    }
    const { outcome, reason } = describeNetworkError(error, target);
    return { outcome, error: redact(reason, target), serverUid: null, retryAfterSeconds: null, httpStatus: null, latencyMs: elapsed(started) };
  }
}

/**
 * How every request to the server travels: the timeout, no redirects, and the
 * system's CAs plus server.ca_file. `doctor` uses it too, so it sees what the agent sees.
 */
function transport(target: UploadTarget, stop?: AbortSignal): RequestInit & { tls?: { ca?: string[] } } {
  const timeout = AbortSignal.timeout(target.timeoutSeconds * 1000);
  return {
    redirect: "manual",
    signal: stop ? AbortSignal.any([timeout, stop]) : timeout,
    ...(target.caFile ? { tls: { ca: [...rootCertificates, readFileSync(target.caFile, "utf8")] } } : {}),
  };
}

export type ProbeResult = { ok: true; httpStatus: number; latencyMs: number } | { ok: false; error: string; latencyMs: number };

/** A GET through the agent's transport: sends no data; any HTTP answer proves the name, the route and TLS. */
export async function probeServer(target: UploadTarget): Promise<ProbeResult> {
  const started = performance.now();
  try {
    const response = await fetch(target.url, { method: "GET", headers: { "User-Agent": target.userAgent }, ...transport(target) });
    await response.body?.cancel().catch(() => {});
    return { ok: true, httpStatus: response.status, latencyMs: elapsed(started) };
  } catch (error) {
    return { ok: false, error: redact(describeNetworkError(error, target).reason, target), latencyMs: elapsed(started) };
  }
}

/** The body as text, or null once it passes `maxBytes` (the rest is never read). */
async function readBounded(response: Response, maxBytes: number): Promise<string | null> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
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

/**
 * Never let the token or URL credentials reach a log or the ledger, whether in
 * our own messages or echoed by a server (a bearer token, a URL's password, or
 * the Basic credentials made of it).
 */
export function redact(text: string, target: Pick<UploadTarget, "token" | "url">): string {
  let out = text;
  if (target.token) out = out.replaceAll(target.token, "[token]");
  const credentials = urlCredentials(target.url);
  if (credentials) {
    const basic = Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64");
    out = out.replaceAll(basic, "[credentials]");
    if (credentials.password) out = out.replaceAll(credentials.password, "[password]");
  }
  return redactUrlCredentials(out);
}
