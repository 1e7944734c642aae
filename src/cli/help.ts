// Per-command help, rendered from the command's citty definition (its meta and
// args) and the examples and exit codes declared beside it: one renderer for
// `gpu_monitor <command> --help` and `gpu_monitor help <command>`. Shaped like
// the rest of the Unix world: Usage, a line of what it does, the options with
// their defaults, examples, exit codes. (citty's own renderUsage has no place for
// examples or exit codes, and colours its text.)

import type { ArgDef, ArgsDef } from "citty";
import { EXIT } from "./errors.ts";

export interface CommandHelp {
  /** What follows `gpu_monitor <command>` on the Usage line; default "[options]". */
  usage?: string;
  /** [command line, what it does]. */
  examples: ReadonlyArray<readonly [string, string]>;
  /** Flags whose value may be left out, with the value they take then: `--watch [SECONDS]`. */
  optionalValues?: Record<string, string>;
  /** What exit 1 means for this command, exit 3 where the command needs NVML, exit 0 where "success" says too little. */
  exitCodes: { [EXIT.ok]?: string; [EXIT.failure]: string; [EXIT.nvmlUnavailable]?: string };
}

const WIDTH = 80;
const GUTTER = 2;

export function renderCommandHelp(name: string, description: string, args: ArgsDef, help: CommandHelp): string {
  const options: Array<[string, string]> = Object.entries(args)
    .filter(([, def]) => def.type !== "positional")
    .map(([flag, def]) => [optionSpelling(flag, def, help.optionalValues?.[flag] !== undefined), optionDescription(def)]);
  options.push(["-h, --help", "Show this help"]);
  const exits: Array<[string, string]> = [
    [String(EXIT.ok), help.exitCodes[EXIT.ok] ?? "success"],
    [String(EXIT.failure), help.exitCodes[EXIT.failure]],
    [String(EXIT.usage), "bad usage or config"],
    ...(help.exitCodes[EXIT.nvmlUnavailable] ? [[String(EXIT.nvmlUnavailable), help.exitCodes[EXIT.nvmlUnavailable]] as [string, string]] : []),
  ];
  return [
    `Usage: gpu_monitor ${name} ${help.usage ?? "[options]"}`,
    "",
    ...wrap(description, WIDTH),
    "",
    "Options:",
    ...twoColumns(options),
    "",
    "Examples:",
    ...help.examples.flatMap(([command, what]) => [`  $ ${command}`, ...wrap(what, WIDTH - 6).map((line) => `      ${line}`)]),
    "",
    "Exit codes:",
    ...twoColumns(exits),
    "",
  ].join("\n");
}

/** `-f, --format <table|json|csv>`, `--watch [SECONDS]` (the value may be left out); a flag without a short form lines up under the long ones. */
function optionSpelling(flag: string, def: ArgDef, optionalValue: boolean): string {
  const aliases = "alias" in def && def.alias ? (Array.isArray(def.alias) ? def.alias : [def.alias]) : [];
  const short = aliases.find((alias) => alias.length === 1);
  const hint = "valueHint" in def && def.valueHint ? def.valueHint : "value";
  const value = def.type === "boolean" ? "" : optionalValue ? ` [${hint}]` : ` <${hint}>`;
  return `${short ? `-${short}, ` : "    "}--${flag}${value}`;
}

function optionDescription(def: ArgDef): string {
  const description = def.description ?? "";
  const shown = "default" in def && def.default !== undefined && def.default !== false ? ` (default: ${def.default})` : "";
  return `${description}${shown}${"required" in def && def.required ? " (required)" : ""}`;
}

/** Left cells padded to the widest, the right ones wrapped under themselves. */
function twoColumns(rows: ReadonlyArray<readonly [string, string]>): string[] {
  const left = Math.max(...rows.map(([cell]) => Bun.stringWidth(cell)));
  const indent = 2 + left + GUTTER;
  return rows.flatMap(([cell, text]) => {
    const lines = wrap(text, Math.max(30, WIDTH - indent));
    return lines.map((line, i) => (i === 0 ? `  ${cell.padEnd(left)}${" ".repeat(GUTTER)}${line}` : `${" ".repeat(indent)}${line}`).trimEnd());
  });
}

/** Words filled into lines of at most `width` columns (a longer word gets a line of its own). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && Bun.stringWidth(line) + 1 + Bun.stringWidth(word) > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  return lines.length || line ? [...lines, line] : [""];
}
