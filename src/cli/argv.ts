// Command-line tokens before citty sees them. citty reads `-ls` as `-l -s` and
// accepts unknown flags silently, so the original tool's multi-letter short flags
// are rewritten to their long forms here and unknown flags are rejected.

import type { ArgsDef } from "citty";
import { closest } from "../util/closest.ts";
import { UsageError } from "./errors.ts";

const LEGACY_SHORT_FLAGS: Record<string, string> = {
  "-ls": "--list-sends",
  "-ss": "--search-send",
  "-sc": "--show-collection",
};

export function rewriteLegacyFlags(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === "--") {
      out.push(...argv.slice(i));
      break;
    }
    const [flag, value] = splitInline(token);
    const long = LEGACY_SHORT_FLAGS[flag];
    out.push(long ? (value === undefined ? long : `${long}=${value}`) : token);
  }
  return out;
}

function splitInline(token: string): [string, string | undefined] {
  const eq = token.indexOf("=");
  return eq > 0 && token.startsWith("-") ? [token.slice(0, eq), token.slice(eq + 1)] : [token, undefined];
}

/** Throws UsageError for a flag the command does not define, with the closest match. */
export function rejectUnknownFlags(argv: readonly string[], args: ArgsDef, command: string): void {
  const known = new Map<string, { type: string | undefined }>();
  for (const [name, def] of Object.entries(args)) {
    if (def.type === "positional") continue;
    const aliases = "alias" in def && def.alias ? (Array.isArray(def.alias) ? def.alias : [def.alias]) : [];
    for (const spelling of [name, ...aliases, kebab(name)]) known.set(spelling, { type: def.type });
  }
  known.set("help", { type: "boolean" });
  known.set("h", { type: "boolean" });
  for (const token of argv) {
    if (token === "--") return;
    if (!token.startsWith("-") || token === "-" || /^-\d/.test(token)) continue;
    const name = splitInline(token)[0].replace(/^--?/, "");
    const negated = name.startsWith("no-") && known.get(name.slice(3))?.type === "boolean";
    if (known.has(name) || negated) continue;
    const hint = closest(name, [...known.keys()].filter((k) => k.length > 1));
    throw new UsageError(
      `unknown option ${token.split("=")[0]} for '${command}'${hint ? ` (did you mean --${hint}?)` : ""}; see '${command} --help'`,
    );
  }
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
