// One logger for the process: timestamped lines on stderr (the level coloured
// only on a terminal, never with NO_COLOR) and, for the agent, in `logging.file`
// with size-based rotation. Modules get tagged children (logger.withTag("ship")).

import { appendFileSync, existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { createConsola, type ConsolaInstance, type LogObject } from "consola";
import type { LogLevel } from "./config/schema.ts";
import { escapeControl } from "./util/text.ts";

export type Logger = ConsolaInstance;

const CONSOLA_LEVEL: Record<LogLevel, number> = { DEBUG: 4, INFO: 3, WARNING: 1, ERROR: 0, CRITICAL: 0 };
const LABEL: Record<string, string> = {
  fatal: "CRITICAL",
  error: "ERROR",
  warn: "WARNING",
  log: "INFO",
  info: "INFO",
  success: "INFO",
  start: "INFO",
  ready: "INFO",
  box: "INFO",
  debug: "DEBUG",
  trace: "DEBUG",
  verbose: "DEBUG",
};
const COLOUR: Record<string, string> = { CRITICAL: "\x1b[35m", ERROR: "\x1b[31m", WARNING: "\x1b[33m", INFO: "\x1b[32m", DEBUG: "\x1b[90m" };

export function formatLogLine(log: LogObject, colour = false): string {
  // Escaped: a message may quote a server or a GPU, and must stay one line of text.
  const message = escapeControl(log.args.map((arg) => (arg instanceof Error ? arg.message : String(arg))).join(" "));
  const tag = log.tag ? ` ${escapeControl(log.tag)}:` : "";
  const label = LABEL[log.type] ?? "INFO";
  const shown = colour ? `${COLOUR[label]}${label}\x1b[0m` : label;
  return `${log.date.toISOString()} ${shown}${tag} ${message}`;
}

export interface LogFileSettings {
  path: string;
  maxBytes: number;
  maxFiles: number;
}

/**
 * Appends lines to a file, rotating it at `maxBytes` (file -> file.1 -> ... ->
 * file.N, the oldest dropped). Each line opens the file anew, so a file moved
 * away by logrotate, or a reopen after SIGHUP, needs nothing special.
 */
export class RotatingLogFile {
  private size: number | null = null;
  private failed = false;

  constructor(
    readonly settings: LogFileSettings,
    private readonly onError: (message: string) => void,
  ) {}

  write(line: string): void {
    if (this.failed) return;
    try {
      const { path, maxBytes } = this.settings;
      this.size ??= existsSync(path) ? statSync(path).size : (mkdirSync(dirname(path), { recursive: true }), 0);
      const bytes = Buffer.byteLength(line) + 1;
      if (this.size > 0 && this.size + bytes > maxBytes) this.rotate();
      appendFileSync(path, `${line}\n`, { mode: 0o640 });
      this.size += bytes;
    } catch (error) {
      this.failed = true; // say it once, keep logging to the console
      this.onError(`cannot write the log file ${this.settings.path}: ${(error as Error).message}; logging to the console only`);
    }
  }

  /** Forget what we knew of the file: the next line stats it again (after SIGHUP). */
  reopen(): void {
    this.size = null;
    this.failed = false;
  }

  private rotate(): void {
    const { path, maxFiles } = this.settings;
    rmSync(`${path}.${maxFiles}`, { force: true });
    for (let n = maxFiles - 1; n >= 1; n--) {
      if (existsSync(`${path}.${n}`)) renameSync(`${path}.${n}`, `${path}.${n + 1}`);
    }
    if (maxFiles >= 1) renameSync(path, `${path}.1`);
    else rmSync(path, { force: true });
    this.size = 0;
  }
}

export interface LoggerOptions {
  stream?: NodeJS.WritableStream;
  /** Colour the level on the console: a terminal that did not ask for NO_COLOR. */
  colour?: boolean;
  file?: RotatingLogFile | null;
}

export function createLogger(level: LogLevel, options: LoggerOptions | NodeJS.WritableStream = {}): Logger {
  const { stream = process.stderr, colour = false, file = null } =
    "write" in options ? { stream: options as NodeJS.WritableStream } : (options as LoggerOptions);
  return createConsola({
    level: CONSOLA_LEVEL[level],
    reporters: [
      {
        log: (log) => {
          stream.write(`${formatLogLine(log, colour)}\n`);
          file?.write(formatLogLine(log));
        },
      },
    ],
  });
}

/** Whether the console may be coloured (stderr is a terminal and NO_COLOR is not set). */
export function consoleColour(): boolean {
  return Boolean(process.stderr.isTTY) && !process.env.NO_COLOR;
}

/** -v means DEBUG; -l LEVEL overrides the config's level. */
export function effectiveLevel(configured: LogLevel, flags: { verbose?: boolean | undefined; logLevel?: string | undefined }): LogLevel {
  if (flags.logLevel) return flags.logLevel.toUpperCase() as LogLevel;
  return flags.verbose ? "DEBUG" : configured;
}
