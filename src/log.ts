// One logger for the process: plain timestamped lines on stderr (colour only on
// a terminal, never with NO_COLOR), tagged children per module.

import { createConsola, type ConsolaInstance, type LogObject } from "consola";
import type { LogLevel } from "./config/schema.ts";

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

export function formatLogLine(log: LogObject): string {
  const message = log.args.map((arg) => (arg instanceof Error ? arg.message : String(arg))).join(" ");
  const tag = log.tag ? ` ${log.tag}:` : "";
  return `${log.date.toISOString()} ${LABEL[log.type] ?? "INFO"}${tag} ${message}`;
}

export function createLogger(level: LogLevel, stream: NodeJS.WritableStream = process.stderr): Logger {
  return createConsola({
    level: CONSOLA_LEVEL[level],
    reporters: [{ log: (log) => void stream.write(`${formatLogLine(log)}\n`) }],
  });
}

/** -v means DEBUG; -l LEVEL overrides the config's level. */
export function effectiveLevel(configured: LogLevel, flags: { verbose?: boolean; logLevel?: string | undefined }): LogLevel {
  if (flags.logLevel) return flags.logLevel.toUpperCase() as LogLevel;
  return flags.verbose ? "DEBUG" : configured;
}
