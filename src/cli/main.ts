// The command line: picks the command, runs it, and turns errors into one line
// and an exit code (stack traces only with --verbose).

import { runCommand, type ArgsDef, type CommandDef, type CommandMeta } from "citty";
import { ConfigError } from "../config/load.ts";
import { NvmlError, NvmlUnavailableError } from "../nvml/index.ts";
import { escapeControl } from "../util/text.ts";
import { TimeParseError } from "../util/time.ts";
import { StoreError } from "../store/database.ts";
import { AgentLockError } from "../store/lock.ts";
import { VERSION } from "../version.ts";
import { closest } from "../util/closest.ts";
import { fillOptionalValues, rejectUnknownFlags } from "./argv.ts";
import { EXIT, UsageError } from "./errors.ts";
import { renderCommandHelp, type CommandHelp } from "./help.ts";
import { LEGACY_USAGE, parseLegacyArgs } from "./legacy.ts";

/** A command's module: its citty definition, and the examples and exit codes its help shows. */
interface CommandModule {
  default: CommandDef<any>;
  help: CommandHelp;
}

const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  run: () => import("./commands/run.ts"),
  snapshot: () => import("./commands/snapshot.ts"),
  export: () => import("./commands/export.ts"),
  send: () => import("./commands/send.ts"),
  status: () => import("./commands/status.ts"),
  doctor: () => import("./commands/doctor.ts"),
  usage: () => import("./commands/usage.ts"),
  report: () => import("./commands/report.ts"),
};

/** Words that are not commands of their own: `help [COMMAND]` and `version`. */
const WORDS = ["help", "version"];

export async function main(argv: readonly string[]): Promise<number> {
  const verbose = argv.includes("--verbose") || argv.includes("-v");
  try {
    const at = commandPosition(argv);
    if (at >= 0 && argv[at] === "version") return printVersion();
    if (at >= 0 && argv[at] === "help") return await helpCommand(argv.slice(at + 1).filter((token) => !token.startsWith("-")));
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
    else if (!token.startsWith("-")) return token in COMMANDS || WORDS.includes(token) ? i : -1;
  }
  return -1;
}

async function runSubcommand(name: string, module: CommandModule, given: string[]): Promise<number> {
  const command = module.default;
  const rest = fillOptionalValues(given, module.help.optionalValues ?? {});
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(await commandHelp(name, module));
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
  if (args.version) return printVersion();
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

function printVersion(): number {
  process.stdout.write(`${VERSION}\n`);
  return EXIT.ok;
}

/** `gpu_monitor help` (the overview), `gpu_monitor help <command>` (as `<command> --help`). */
async function helpCommand(words: readonly string[]): Promise<number> {
  const name = words[0];
  if (name === undefined) {
    process.stdout.write(LEGACY_USAGE);
    return EXIT.ok;
  }
  const load = COMMANDS[name];
  if (!load) {
    const hint = closest(name, Object.keys(COMMANDS));
    throw new UsageError(`no command '${name}'${hint ? ` (did you mean ${hint}?)` : ""}; the commands are ${Object.keys(COMMANDS).join(", ")}`);
  }
  process.stdout.write(await commandHelp(name, await load()));
  return EXIT.ok;
}

async function commandHelp(name: string, module: CommandModule): Promise<string> {
  const meta = await resolve<CommandMeta>(module.default.meta);
  return renderCommandHelp(name, meta?.description ?? "", (await resolveArgs(module.default)) ?? {}, module.help);
}

async function resolve<T>(value: T | Promise<T> | (() => T | Promise<T>) | undefined): Promise<T | undefined> {
  return typeof value === "function" ? await (value as () => T | Promise<T>)() : await value;
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
