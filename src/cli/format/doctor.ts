// `doctor` output: a line per check for people, one JSON document for scripts.

import type { Check, CheckStatus } from "../../doctor/checks.ts";
import { escapeControl } from "../../util/text.ts";

const MARK: Record<CheckStatus, string> = { pass: "PASS", fail: "FAIL", warn: "WARN" };

export function doctorText(checks: readonly Check[]): string {
  const width = Math.max(...checks.map((check) => check.name.length));
  return checks.map((check) => `${MARK[check.status]}  ${check.name.padEnd(width)}  ${escapeControl(check.detail)}\n`).join("");
}

/**
 * The shape scripts read, documented in the README and kept stable:
 * `{ "healthy": bool, "checks": [{ "name", "status": "pass"|"warn"|"fail", "detail" }] }`,
 * healthy false exactly when a check fails (and doctor exits 1).
 */
export function doctorJson(checks: readonly Check[]): string {
  const shown = checks.map((check) => ({ name: check.name, status: check.status, detail: check.detail }));
  return JSON.stringify({ healthy: !checks.some((check) => check.status === "fail"), checks: shown }, null, 2) + "\n";
}
