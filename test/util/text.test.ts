import { expect, test } from "bun:test";
import { escapeControl, hasControl, truncateBytes } from "../../src/util/text.ts";

test("C0, DEL and C1 controls are written as visible \\x escapes", () => {
  expect(escapeControl("\x1b[2J\r\nFAKE LINE | 1 | x")).toBe("\\x1b[2J\\x0d\\x0aFAKE LINE | 1 | x");
  expect(escapeControl("\x1b]0;pwned\x07")).toBe("\\x1b]0;pwned\\x07");
  expect(escapeControl("a\x00b\x7fc\x9bd\ttab")).toBe("a\\x00b\\x7fc\\x9bd\\x09tab");
});

test("bidirectional overrides, isolates and marks are written as \\u escapes", () => {
  expect(escapeControl("a\u202eb\u202ac\u2066d\u2069e\u200ef\u200fg")).toBe("a\\u202eb\\u202ac\\u2066d\\u2069e\\u200ef\\u200fg");
});

test("ordinary text, accents, other scripts and backslashes are kept as they are", () => {
  const text = "NVIDIA GeForce RTX 4090 é 日本 C:\\Program Files €";
  expect(escapeControl(text)).toBe(text);
  expect(hasControl(text)).toBe(false);
  expect(hasControl("x\u2067")).toBe(true);
});

test("truncateBytes cuts on a character boundary and marks the cut", () => {
  expect(truncateBytes("short", 512)).toBe("short");
  expect(truncateBytes("é".repeat(10), 10)).toBe("ééé...");
  expect(Buffer.byteLength(truncateBytes("€".repeat(1000), 512))).toBeLessThanOrEqual(512);
});
