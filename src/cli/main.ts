// The command line: picks the command, runs it, and turns errors into one line
// and an exit code (stack traces only with --verbose).

import { renderUsage, runCommand, type ArgsDef, type CommandDef } from "citty";
import { ConfigError } from "../config/load.ts";
import { NvmlError, NvmlUnavailableError } from "../nvml/index.ts";
import { escapeControl } from "../util/text.ts";
import { TimeParseError } from "../util/time.ts";
import { StoreError } from "../store/database.ts";
import { AgentLockError } from "../store/lock.ts";
import { VERSION } from "../version.ts";
import { rejectUnknownFlags } from "./argv.ts";
import { EXIT, UsageError } from "./errors.ts";
import { LEGACY_USAGE, parseLegacyArgs } from "./legacy.ts";

type LazyCommand = () => Promise<CommandDef<any>>;

const COMMANDS: Record<string, LazyCommand> = {
  run: () => import("./commands/run.ts").then((m) => m.default),
  snapshot: () => import("./commands/snapshot.ts").then((m) => m.default),
  export: () => import("./commands/export.ts").then((m) => m.default),
  send: () => import("./commands/send.ts").then((m) => m.default),
  status: () => import("./commands/status.ts").then((m) => m.default),
  doctor: () => import("./commands/doctor.ts").then((m) => m.default),
};

export async function main(argv: readonly string[]): Promise<number> {
  const verbose = argv.includes("--verbose") || argv.includes("-v");
  try {
    const at = commandPosition(argv);
    if (at >= 0) return await runSubcommand(argv[at]!, await COMMANDS[argv[at]!]!(), argv.toSpliced(at, 1));
    return await runLegacy(argv);
  } catch (error) {
    return report(error, verbose);
  }
}

const FLAGS_WITH_VALUES = new Set(["-c", "--config", "-l", "--log-level", "-f", "--output-format", "--nvml-library", "--metrics-listen", "-ss", "--search-send"]);

/** Where the command name is (`gpu_monitor -c x.json export ...` works too), or -1. */
function commandPosition(argv: readonly string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (FLAGS_WITH_VALUES.has(token)) i++;
    else if (!token.startsWith("-")) return token in COMMANDS ? i : -1;
  }
  return -1;
}

async function runSubcommand(name: string, command: CommandDef<any>, rest: string[]): Promise<number> {
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(plain(await renderUsage(command)) + "\n");
    return EXIT.ok;
  }
  rejectUnknownFlags(rest, (await resolveArgs(command)) ?? {}, `gpu_monitor ${name}`);
  await runCommand(command, { rawArgs: rest });
  return typeof process.exitCode === "number" ? process.exitCode : EXIT.ok;
}

/** The original tool's command line: bare runs the agent, -sc/-ls/-ss query. */
async function runLegacy(argv: readonly string[]): Promise<number> {
  const args = parseLegacyArgs(argv);
  if (args.help) {
    process.stdout.write(LEGACY_USAGE);
    return EXIT.ok;
  }
  if (args.version) {
    process.stdout.write(`${VERSION}\n`);
    return EXIT.ok;
  }
  if (args.showCollection !== undefined) {
    const { showCollectionCommand } = await import("./commands/showCollection.ts");
    return showCollectionCommand(args.showCollection, args);
  }
  if (args.listSends) return (await import("./commands/ledger.ts")).listSendsCommand(args);
  if (args.searchSend !== undefined) return (await import("./commands/ledger.ts")).searchSendCommand(args.searchSend, args);
  const { runAgentCommand } = await import("./commands/run.ts");
  await runAgentCommand(args);
  return EXIT.ok;
}

/** citty colours its usage text; keep colour for a terminal that wants it. */
function plain(text: string): string {
  const colour = process.stdout.isTTY && !process.env.NO_COLOR;
  return colour ? text : text.replace(/\x1b\[[0-9;]*m/g, "");
}

async function resolveArgs(command: CommandDef<any>): Promise<ArgsDef | undefined> {
  const args = command.args;
  return typeof args === "function" ? await args() : await args;
}

/** One line on stderr, and the exit code the error stands for. */
function report(error: unknown, verbose: boolean): number {
  const [prefix, code] = classify(error);
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`gpu_monitor: ${prefix}: ${escapeControl(message)}\n`);
  if (verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return code;
}

function classify(error: unknown): [string, number] {
  if (error instanceof UsageError || error instanceof TimeParseError) return ["usage error", EXIT.usage];
  if (error instanceof ConfigError) return ["config error", EXIT.usage];
  if (error instanceof NvmlUnavailableError) return ["NVML unavailable", EXIT.nvmlUnavailable];
  if (error instanceof NvmlError) return ["NVML error", EXIT.failure];
  if (error instanceof StoreError) return ["database error", EXIT.failure];
  if (error instanceof AgentLockError) return ["already running", EXIT.failure];
  return ["error", EXIT.failure];
}
