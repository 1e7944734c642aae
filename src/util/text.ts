// Text from outside (a server's reply, a GPU or process name, a config file) made
// safe to print: control characters and bidirectional overrides would move the
// cursor, set the terminal title or forge a line. Used at every text edge (table,
// CSV, log line, error line); JSON escapes on its own.

// C0, DEL, C1; the bidirectional marks, embeddings, overrides and isolates.
const UNSAFE_CHARS = "\\x00-\\x1f\\x7f-\\x9f\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069";
const UNSAFE = new RegExp(`[${UNSAFE_CHARS}]`, "g");
const HAS_UNSAFE = new RegExp(`[${UNSAFE_CHARS}]`);

/** `text` with each unsafe character written as a visible escape: `\x1b`, `\u202e`. */
export function escapeControl(text: string): string {
  return text.replace(UNSAFE, (char) => {
    const code = char.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/** Whether `text` holds a character escapeControl would rewrite. */
export function hasControl(text: string): boolean {
  return HAS_UNSAFE.test(text);
}

/** `text` cut to at most `maxBytes` of UTF-8, on a character boundary, with "..." when cut. */
export function truncateBytes(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let out = "";
  let bytes = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char);
    if (bytes + size > maxBytes - 3) break;
    out += char;
    bytes += size;
  }
  return `${out}...`;
}
