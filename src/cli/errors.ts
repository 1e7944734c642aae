// Exit codes (DESIGN section 3) and the errors the CLI turns into them.

export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  nvmlUnavailable: 3,
} as const;

/** Bad flags or values: exit 2, the message says what would be accepted. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}
