// Command-line tokens before citty sees them. citty reads `-ls` as `-l -s`,
// accepts unknown flags and stray words silently, takes the next flag as a
// missing value and fails a missing required flag as a runtime error; so the
// original tool's multi-letter short flags are rewritten to their long forms here,
// and all of those are usage errors (exit 2) that say what was wanted.

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

interface KnownFlag {
  name: string;
  type: string | undefined;
  valueHint?: string | undefined;
}

/**
 * Throws UsageError for a flag the command does not define (with the closest
 * match), a word the command takes no place for, a flag without its value (empty,
 * or followed by another flag), and a required flag left out.
 */
export function rejectUnknownFlags(argv: readonly string[], args: ArgsDef, command: string): void {
  const known = new Map<string, KnownFlag>();
  let takesWords = false;
  for (const [name, def] of Object.entries(args)) {
    if (def.type === "positional") {
      takesWords = true;
      continue;
    }
    const aliases = "alias" in def && def.alias ? (Array.isArray(def.alias) ? def.alias : [def.alias]) : [];
    const flag = { name, type: def.type, valueHint: "valueHint" in def ? def.valueHint : undefined };
    for (const spelling of [name, ...aliases, kebab(name)]) known.set(spelling, flag);
  }
  known.set("help", { name: "help", type: "boolean" });
  known.set("h", { name: "help", type: "boolean" });
  const seen = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === "--") return;
    if (/^-\d/.test(token)) continue;
    if (!token.startsWith("-") || token === "-") {
      if (takesWords) continue;
      throw new UsageError(`unexpected argument '${token}' for '${command}', which takes options only; see '${command} --help'`);
    }
    const [spelled, inline] = splitInline(token);
    const name = spelled.replace(/^--?/, "");
    const negated = name.startsWith("no-") && known.get(name.slice(3))?.type === "boolean";
    if (negated) continue;
    const flag = known.get(name);
    if (!flag) {
      const hint = closest(name, [...known.keys()].filter((k) => k.length > 1)) ?? partOf(name, [...known.keys()]);
      throw new UsageError(`unknown option ${spelled} for '${command}'${hint ? ` (did you mean --${hint}?)` : ""}; see '${command} --help'`);
    }
    seen.add(flag.name);
    if (flag.type !== "string") continue;
    const value = inline ?? argv[++i];
    if (value === undefined || value === "" || (inline === undefined && /^-[^\d]/.test(value))) {
      throw new UsageError(`${spelled} needs a value${wanted(flag.valueHint)}; see '${command} --help'`);
    }
  }
  for (const [name, def] of Object.entries(args)) {
    if (def.type === "string" && "required" in def && def.required && !seen.has(name)) {
      throw new UsageError(`'${command}' needs --${name}${wanted("valueHint" in def ? def.valueHint : undefined)}; see '${command} --help'`);
    }
  }
}

/** A known flag that is one word of an unknown one: --output-format → --format. */
function partOf(name: string, known: readonly string[]): string | undefined {
  const words = name.split(/[-_]/);
  return known.find((flag) => flag.length > 1 && words.includes(flag));
}

/** What a flag's value may be, from its hint: `TIME|failed` → `: a TIME such as ... or failed`. */
function wanted(valueHint: string | undefined): string {
  if (!valueHint) return "";
  const choices = valueHint.split("|").map((choice) => (choice === "TIME" ? 'a TIME such as "2024-03-20T14:30"' : choice));
  return `: ${choices.join(" or ")}`;
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/**
 * `--watch` with its value left out (last, or before another flag) gets the value
 * it stands for, so citty, which knows no optional values, reads `--watch 2`.
 * `defaults` maps a flag's long name to that value.
 */
export function fillOptionalValues(argv: readonly string[], defaults: Record<string, string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    out.push(token);
    if (token === "--") {
      out.push(...argv.slice(i + 1));
      break;
    }
    const fallback = token.startsWith("--") ? defaults[token.slice(2)] : undefined;
    const next = argv[i + 1];
    if (fallback !== undefined && (next === undefined || (next.startsWith("-") && !/^-\d/.test(next)))) out.push(fallback);
  }
  return out;
}
