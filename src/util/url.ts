// Credentials written in a URL (https://user:password@host/): found, and kept out
// of everything we print or store.

/** The user name and password written in a URL, decoded, or null. */
export function urlCredentials(url: string): { username: string; password: string } | null {
  try {
    const parsed = new URL(url);
    if (!parsed.username && !parsed.password) return null;
    return { username: decodeURIComponent(parsed.username), password: decodeURIComponent(parsed.password) };
  } catch {
    return null;
  }
}

/** Every `scheme://user:password@` in `text` with the credentials replaced. */
export function redactUrlCredentials(text: string): string {
  // The scheme is bounded and starts a word: a megabyte of letters must not cost quadratic time.
  return text.replace(/\b([a-z][a-z0-9+.-]{0,15}:\/\/)[^/\s:@]+(?::[^/\s@]*)?@/gi, "$1[credentials]@");
}
