// The original tool's top-level flags, parsed exactly: `gpu_monitor [-c PATH] [-o]
// [-v] [-l LEVEL] [-ls | -ss TIME | -sc [TIME]] [-f json|csv]`. Bare `gpu_monitor`
// runs the agent. A parser of our own, because -sc takes an optional (possibly
// empty) value, which citty cannot express.

import { closest } from "../util/closest.ts";
import { rewriteLegacyFlags } from "./argv.ts";
import { UsageError } from "./errors.ts";

export interface LegacyArgs {
  help: boolean;
  version: boolean;
  config?: string;
  offline: boolean;
  verbose: boolean;
  logLevel?: string;
  listSends: boolean;
  searchSend?: string;
  /** "" for the current window; undefined when -sc is absent. */
  showCollection?: string;
  outputFormat?: string;
  nvmlLibrary?: string;
  metricsListen?: string;
}

const VALUE_FLAGS: Record<string, keyof LegacyArgs> = {
  "-c": "config",
  "--config": "config",
  "-l": "logLevel",
  "--log-level": "logLevel",
  "--search-send": "searchSend",
  "-f": "outputFormat",
  "--output-format": "outputFormat",
  "--format": "outputFormat",
  "--nvml-library": "nvmlLibrary",
  "--metrics-listen": "metricsListen",
};

const VALUE_WANTED: Partial<Record<keyof LegacyArgs, string>> = {
  searchSend: ': the TIME of a window, such as "2024-03-20T14:00"',
  config: ": the config file's path",
  logLevel: ": DEBUG, INFO, WARNING, ERROR or CRITICAL",
  outputFormat: ": json or csv (-ls: table or json; -ss: text or json)",
  nvmlLibrary: ": the NVML library's full path",
  metricsListen: ": host:port, e.g. 127.0.0.1:9400",
};

const SWITCHES: Record<string, keyof LegacyArgs> = {
  "-h": "help",
  "--help": "help",
  "--version": "version",
  "-V": "version",
  "-o": "offline",
  "--offline": "offline",
  "-v": "verbose",
  "--verbose": "verbose",
  "--list-sends": "listSends",
};

const LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];

export function parseLegacyArgs(argv: readonly string[]): LegacyArgs {
  const tokens = rewriteLegacyFlags(argv);
  const args: LegacyArgs = { help: false, version: false, offline: false, verbose: false, listSends: false };
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    const eq = token.startsWith("--") ? token.indexOf("=") : -1;
    const flag = eq > 0 ? token.slice(0, eq) : token;
    const inline = eq > 0 ? token.slice(eq + 1) : undefined;
    if (flag === "--show-collection") {
      // Optional value: the next token unless it is another flag (-90m is a time, not a flag).
      const next = tokens[i + 1];
      args.showCollection = inline ?? (next !== undefined && (!next.startsWith("-") || /^-\d/.test(next)) ? (i++, next) : "");
      continue;
    }
    const switchName = SWITCHES[flag];
    if (switchName) {
      (args as unknown as Record<string, boolean>)[switchName] = true;
      continue;
    }
    const valueName = VALUE_FLAGS[flag];
    if (valueName) {
      const value = inline ?? tokens[++i];
      // An empty value, or the next flag taken as one, would be read as something else entirely.
      if (value === undefined || value === "" || (inline === undefined && /^-[^\d]/.test(value))) {
        const what = flag === "--search-send" ? "-ss" : flag;
        throw new UsageError(`${what} needs a value${VALUE_WANTED[valueName] ?? ""}; see 'gpu_monitor --help'`);
      }
      (args as unknown as Record<string, string>)[valueName] = value;
      continue;
    }
    const known = [...Object.keys(SWITCHES), ...Object.keys(VALUE_FLAGS), "--show-collection"].filter((f) => f.startsWith("--"));
    const hint = token.startsWith("-") ? closest(flag, known) : undefined;
    throw new UsageError(
      token.startsWith("-")
        ? `unknown option ${flag}${hint ? ` (did you mean ${hint}?)` : ""}; see 'gpu_monitor --help'`
        : `unknown command '${token}'; see 'gpu_monitor --help'`,
    );
  }
  if (args.logLevel && !LEVELS.includes(args.logLevel.toUpperCase())) {
    throw new UsageError(`--log-level must be one of ${LEVELS.join(", ")} (any case), not '${args.logLevel}'`);
  }
  const formats = args.listSends ? ["table", "json"] : args.searchSend !== undefined ? ["text", "json"] : ["json", "csv"];
  if (args.outputFormat && !formats.includes(args.outputFormat)) {
    throw new UsageError(`--output-format must be ${formats.join(" or ")}, not '${args.outputFormat}'`);
  }
  const queries = [args.listSends, args.searchSend !== undefined, args.showCollection !== undefined].filter(Boolean);
  if (queries.length > 1) throw new UsageError("use one of -ls, -ss and -sc at a time");
  return args;
}

export const LEGACY_USAGE = `Usage: gpu_monitor [-c PATH] [-o] [-v] [-l LEVEL]    run the agent in the foreground
       gpu_monitor -sc [TIME] | -ls | -ss TIME [-f FORMAT]
       gpu_monitor <command> [options]

GPU metrics agent: reads NVIDIA GPUs through NVML, stores, aggregates and ships them.

Options:
  -h, --help                     this help
  -V, --version                  print the version
  -c, --config PATH              config file
  -o, --offline                  collect and aggregate, send nothing
  -v, --verbose                  debug logging, stack traces
  -l, --log-level LEVEL          DEBUG, INFO, WARNING, ERROR or CRITICAL (any case)
  -sc, --show-collection [TIME]  raw samples of TIME's minute (a bare date: its first minute);
                                 the aggregate when TIME starts an aggregated window; with no
                                 TIME the current window
  -ls, --list-sends              every window's uploads, newest first
  -ss, --search-send TIME        one window's uploads, every attempt
  -f, --output-format FORMAT     -sc: json (default) or csv; -ls: table (default) or json;
                                 -ss: text (default) or json
      --nvml-library PATH        NVML library to load instead of the system's
      --metrics-listen ADDR      serve Prometheus metrics on host:port (the agent)

Commands:
  run              the agent in the foreground (what the service runs)
  snapshot         read every GPU now and print it (--watch: redraw every 2 s)
  export           raw samples or aggregates of a time range
  usage            GPU-hours, busy hours, energy and peak memory to bill by
  send             ship pending windows now; --resend TIME|failed requeues
  status           the agent at a glance (exit 1 when unhealthy)
  doctor           check NVML, every GPU, config, database, log, server, service
  report           a period's usage as one self-contained HTML page (default: last month)
  help [COMMAND]   this overview, or a command's options, examples and exit codes
  version          print the version

TIME: "2024-03-20T14:30:00" (local), "2024-03-20 14:30", "2024-03-20T14:30:00+02:00" (offsets up
to ±14:00) or "...Z"; a bare date "2024-03-20" is its midnight; or relative: now, today,
yesterday (local midnights), -90m, -2h, -7d, "1 hour ago" (N minutes/hours/days/weeks ago)

Examples:
  $ gpu_monitor -sc -2h -f csv      the raw samples of the minute two hours ago, as CSV
  $ gpu_monitor help export         export's options, examples and exit codes

Exit codes:
  0  success
  1  a runtime failure (snapshot: a GPU unreadable; status: unhealthy; doctor: a check failed)
  2  bad usage or config
  3  NVML unavailable (no library, or the driver not loaded)
`;
