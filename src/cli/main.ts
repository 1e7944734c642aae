// The command line: rewrites legacy flags, picks the command, runs it, and turns
// errors into one line and an exit code (stack traces only with --verbose).

import { defineCommand, renderUsage, runCommand, type ArgsDef, type CommandDef } from "citty";
import { ConfigError } from "../config/load.ts";
import { NvmlError, NvmlUnavailableError } from "../nvml/index.ts";
import { VERSION } from "../version.ts";
import { rejectUnknownFlags, rewriteLegacyFlags } from "./argv.ts";
import { EXIT, UsageError } from "./errors.ts";

type LazyCommand = () => Promise<CommandDef<any>>;

const COMMANDS: Record<string, LazyCommand> = {
  snapshot: () => import("./commands/snapshot.ts").then((m) => m.default),
};

const root = defineCommand({
  meta: {
    name: "gpu_monitor",
    version: VERSION,
    description: "GPU metrics agent: reads NVIDIA GPUs through NVML",
  },
  args: {
    version: { type: "boolean", description: "Print the version and exit" },
    verbose: { type: "boolean", alias: "v", description: "Debug output; stack traces on errors" },
  },
  subCommands: Object.fromEntries(Object.entries(COMMANDS).map(([name, load]) => [name, load])),
});

export async function main(argv: readonly string[]): Promise<number> {
  const tokens = rewriteLegacyFlags(argv);
  const verbose = tokens.includes("--verbose") || tokens.includes("-v");
  try {
    const commandName = tokens.find((token) => !token.startsWith("-"));
    const load = commandName ? COMMANDS[commandName] : undefined;
    if (commandName && !load) {
      throw new UsageError(`unknown command '${commandName}'; commands: ${Object.keys(COMMANDS).join(", ")}`);
    }
    const command = load ? await load() : root;
    const rest = load ? tokens.filter((token) => token !== commandName) : tokens;
    if (rest.includes("--help") || rest.includes("-h")) {
      process.stdout.write(plain(await renderUsage(command, load ? root : undefined)) + "\n");
      return EXIT.ok;
    }
    if (!load && rest.includes("--version")) {
      process.stdout.write(`${VERSION}\n`);
      return EXIT.ok;
    }
    rejectUnknownFlags(rest, (await resolveArgs(command)) ?? {}, load ? `gpu_monitor ${commandName}` : "gpu_monitor");
    if (!load) {
      process.stdout.write(plain(await renderUsage(root)) + "\n");
      return EXIT.usage;
    }
    await runCommand(command, { rawArgs: rest });
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.ok;
  } catch (error) {
    return report(error, verbose);
  }
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
  const [prefix, code] =
    error instanceof UsageError
      ? ["usage error", EXIT.usage]
      : error instanceof ConfigError
        ? ["config error", EXIT.usage]
      : error instanceof NvmlUnavailableError
        ? ["NVML unavailable", EXIT.nvmlUnavailable]
        : error instanceof NvmlError
          ? ["NVML error", EXIT.failure]
          : ["error", EXIT.failure];
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`gpu_monitor: ${prefix}: ${message}\n`);
  if (verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return code;
}
