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

/** The offset of the first byte that is not valid UTF-8 (overlong forms and surrogates included), or null. */
export function invalidUtf8Offset(bytes: Uint8Array): number | null {
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i]!;
    if (lead < 0x80) {
      i++;
      continue;
    }
    const follow = lead >= 0xc2 && lead <= 0xdf ? 1 : lead >= 0xe0 && lead <= 0xef ? 2 : lead >= 0xf0 && lead <= 0xf4 ? 3 : 0;
    if (follow === 0) return i;
    let codePoint = lead & (0x3f >> follow);
    for (let k = 1; k <= follow; k++) {
      const next = bytes[i + k];
      if (next === undefined || (next & 0xc0) !== 0x80) return i;
      codePoint = (codePoint << 6) | (next & 0x3f);
    }
    const smallest = [0, 0x80, 0x800, 0x10000][follow]!;
    if (codePoint < smallest || codePoint > 0x10ffff || (codePoint >= 0xd800 && codePoint <= 0xdfff)) return i;
    i += follow + 1;
  }
  return null;
}
