// Deciding what a server's answer means (DESIGN section 5). Pure.

import type { AttemptOutcome } from "../store/ledger.ts";
import { hasControl, truncateBytes } from "../util/text.ts";

export type { AttemptOutcome };

export interface Verdict {
  outcome: AttemptOutcome;
  /** Why it was not a success, in words a person understands. */
  error: string | null;
  serverUid: string | null;
  /** Seconds the server asked us to wait (Retry-After), if any. */
  retryAfterSeconds: number | null;
}

/** A uid longer than this is not an id: it would be stored with every window and printed whole. */
export const MAX_UID_LENGTH = 256;

/** At most this much of a reply's body is kept in an error (ledger, log, -ss). */
export const MAX_ERROR_BODY_BYTES = 512;

/** HTTP statuses worth retrying: the server may answer differently later. */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

export function parseRetryAfter(value: string | null, nowMs: number): number | null {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - nowMs) / 1000));
}

/**
 * Success is a 2xx status with a JSON object holding a non-empty string `uid`;
 * when the object holds `params`, they must equal the body sent. `clean`
 * (redaction) is applied to whatever of the reply is kept, before it is cut.
 */
export function verifyReply(
  status: number,
  bodyText: string,
  sent: unknown,
  retryAfterSeconds: number | null = null,
  clean: (text: string) => string = (text) => text,
): Verdict {
  const snippet = (text: string) => bodySnippet(clean(text));
  const fail = (outcome: AttemptOutcome, error: string): Verdict => ({ outcome, error, serverUid: null, retryAfterSeconds });
  if (status < 200 || status > 299) {
    return fail(isTransientStatus(status) ? "retryable" : "fatal", `server answered ${status}${snippet(bodyText)}`);
  }
  let reply: unknown;
  try {
    reply = JSON.parse(bodyText);
  } catch {
    return fail("fatal", `reply is not JSON${snippet(bodyText)}`);
  }
  if (typeof reply !== "object" || reply === null || Array.isArray(reply)) {
    return fail("fatal", `reply is not a JSON object (${Array.isArray(reply) ? "an array" : typeof reply === "object" ? "null" : typeof reply})`);
  }
  const { uid, params } = reply as { uid?: unknown; params?: unknown };
  if (uid === undefined || uid === null) return fail("fatal", "reply misses uid");
  if (typeof uid !== "string" && typeof uid !== "number") return fail("fatal", "reply's uid is not a string");
  if (String(uid).trim() === "") return fail("fatal", "reply has an empty uid");
  if (String(uid).length > MAX_UID_LENGTH) return fail("fatal", `reply's uid is longer than ${MAX_UID_LENGTH} characters (${String(uid).length})`);
  if (hasControl(String(uid))) return fail("fatal", "reply's uid holds control characters");
  if (params !== undefined) {
    const difference = firstDifference(sent, params, "");
    if (difference !== null) return fail("fatal", `server echoed different data at ${difference}`);
  }
  return { outcome: "sent", error: null, serverUid: clean(String(uid)), retryAfterSeconds: null };
}

/** The path of the first place two JSON values differ (key order ignored, numbers as numbers), or null. */
export function firstDifference(expected: unknown, actual: unknown, path: string): string | null {
  const here = path || "(the whole body)";
  if (typeof expected === "number" || typeof actual === "number") {
    return typeof expected === "number" && typeof actual === "number" && expected === actual ? null : here;
  }
  if (expected === null || actual === null || typeof expected !== "object" || typeof actual !== "object") {
    return expected === actual ? null : here;
  }
  if (Array.isArray(expected) !== Array.isArray(actual)) return here;
  if (Array.isArray(expected)) {
    const list = actual as unknown[];
    if (expected.length !== list.length) return here;
    for (let i = 0; i < expected.length; i++) {
      const found = firstDifference(expected[i], list[i], `${path}[${i}]`);
      if (found) return found;
    }
    return null;
  }
  const a = expected as Record<string, unknown>;
  const b = actual as Record<string, unknown>;
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (!(key in a) || !(key in b)) return path ? `${path}.${key}` : key;
    const found = firstDifference(a[key], b[key], path ? `${path}.${key}` : key);
    if (found) return found;
  }
  return null;
}

function bodySnippet(text: string): string {
  const trimmed = text.trim().replace(/\s+/g, " ");
  return trimmed ? `: ${truncateBytes(trimmed, MAX_ERROR_BODY_BYTES)}` : "";
}
