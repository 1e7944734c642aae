// The config file's shape (DESIGN section 4): the original tool's JSON layout
// plus our keys. Every object is strict, so a typo is an error, not a default.

import * as v from "valibot";

const LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

// Every number has a floor and a ceiling, named with its unit: a value far out of
// range (1e300 seconds) would overflow a timer or make the agent do nothing.
const wholeNumber = (min: number, max: number, what: string, ceiling = `${max}`) =>
  v.pipe(v.number(what), v.integer(what), v.minValue(min, `${what} of at least ${min}`), v.maxValue(max, `${what} of at most ${ceiling}`));
const positiveNumber = (max: number, what: string, ceiling = `${max}`) =>
  v.pipe(v.number(what), v.gtValue(0, `${what} greater than 0`), v.maxValue(max, `${what} of at most ${ceiling}`));

const HOUR = 3600;
export const PROCESS_MODES = ["on", "off", "hashed"] as const;
export type ProcessMode = (typeof PROCESS_MODES)[number];
const DAY = 86_400;
const nonEmptyText = (what: string) => v.pipe(v.string(what), v.nonEmpty(what));

const logLevel = v.pipe(
  v.string(`one of ${LOG_LEVELS.join(", ")} (any case)`),
  v.check((level) => (LOG_LEVELS as readonly string[]).includes(level.toUpperCase()), `one of ${LOG_LEVELS.join(", ")} (any case)`),
  v.transform((level) => level.toUpperCase() as LogLevel),
);

const httpUrl = v.pipe(
  v.string("an http:// or https:// URL"),
  v.url("an http:// or https:// URL"),
  v.check((url) => /^https?:\/\//i.test(url), "an http:// or https:// URL"),
);

export const ConfigSchema = v.strictObject({
  server: v.optional(
    v.strictObject({
      url: v.optional(httpUrl),
      // The original tool wrote it as a string; a bare number is accepted and kept as written.
      contract_number: v.optional(
        v.union([nonEmptyText("a contract number"), v.pipe(v.number(), v.integer(), v.transform(String))], "a contract number (text)"),
      ),
      token: v.optional(nonEmptyText("a bearer token (text)")),
      ca_file: v.optional(nonEmptyText("a path to a PEM file")),
      timeout_seconds: v.optional(positiveNumber(600, "a number of seconds", "600 (10 minutes)"), 30),
      retry_initial_seconds: v.optional(positiveNumber(DAY, "a number of seconds", `${DAY} (a day)`), 60),
      retry_max_seconds: v.optional(positiveNumber(DAY, "a number of seconds", `${DAY} (a day)`), 3600),
      max_attempts: v.optional(wholeNumber(1, 1000, "a whole number of attempts"), 10),
      // Off by default: who ran what is the host's business unless it chooses to tell.
      send_processes: v.optional(v.boolean("true or false"), false),
    }),
    {},
  ),
  collection: v.optional(
    v.strictObject({
      // Whole seconds: samples are stored with integer timestamps, one per tick.
      interval_seconds: v.optional(wholeNumber(1, HOUR, "a whole number of seconds", `${HOUR} (an hour)`), 60),
      // A window is at most a day and a whole multiple of the interval (checked in load.ts).
      aggregation_interval_hours: v.optional(positiveNumber(24, "a number of hours", "24 (a day)"), 1),
      aggregation_interval_seconds: v.optional(wholeNumber(1, DAY, "a whole number of seconds", `${DAY} (a day)`)),
      // Who uses each GPU: "on", "off" (not read at all), or "hashed" (names, users, container and pod ids salted and hashed before storing).
      processes: v.optional(v.picklist(PROCESS_MODES, `one of ${PROCESS_MODES.map((mode) => `"${mode}"`).join(", ")}`), "on"),
    }),
    {},
  ),
  database: v.optional(v.strictObject({ file: v.optional(nonEmptyText("a file path"), "gpu_metrics.db") }), {}),
  logging: v.optional(
    v.strictObject({
      file: v.optional(v.string("a file path (empty for none)"), "gpu_monitor.log"),
      level: v.optional(logLevel, "INFO"),
      max_size_mb: v.optional(positiveNumber(10_240, "a size in MB"), 10),
      max_files: v.optional(wholeNumber(1, 100, "a whole number of files"), 5),
    }),
    {},
  ),
  retention: v.optional(
    v.strictObject({
      raw_days: v.optional(positiveNumber(3650, "a number of days", "3650 (ten years)"), 30),
      aggregated_days: v.optional(positiveNumber(36_500, "a number of days", "36500 (a hundred years)"), 365),
    }),
    {},
  ),
  nvml: v.optional(v.strictObject({ library: v.optional(nonEmptyText("a full path to the NVML library")) }), {}),
  // The Prometheus endpoint: off unless listen is set (or run --metrics-listen).
  metrics: v.optional(
    v.strictObject({
      listen: v.optional(
        v.pipe(
          v.string("host:port, e.g. 127.0.0.1:9400"),
          v.regex(/^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]*):\d{1,5}$/, "host:port, e.g. 127.0.0.1:9400"),
          v.check((listen) => Number(listen.slice(listen.lastIndexOf(":") + 1)) <= 65535, "a port of at most 65535"),
        ),
      ),
      // As Prometheus' web config: user name -> bcrypt hash (htpasswd -nB, or `gpu_monitor` docs).
      basic_auth: v.optional(
        v.record(
          v.pipe(v.string(), v.nonEmpty("a user name")),
          v.pipe(v.string("a bcrypt hash"), v.regex(/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/, "a bcrypt hash ($2y$... as htpasswd -nB writes it)")),
        ),
      ),
      tls_cert: v.optional(nonEmptyText("a path to a PEM certificate")),
      tls_key: v.optional(nonEmptyText("a path to a PEM private key")),
    }),
    {},
  ),
});

export type Config = v.InferOutput<typeof ConfigSchema>;

/** The known keys under a dotted path, for "did you mean" hints. */
export function knownKeys(path: readonly string[]): string[] {
  let schema: unknown = ConfigSchema;
  for (const key of path) {
    schema = unwrap(schema);
    const entries = (schema as { entries?: Record<string, unknown> }).entries;
    if (!entries || !(key in entries)) return [];
    schema = entries[key];
  }
  const entries = (unwrap(schema) as { entries?: Record<string, unknown> }).entries;
  return entries ? Object.keys(entries) : [];
}

function unwrap(schema: unknown): unknown {
  let current = schema as { type?: string; wrapped?: unknown };
  while (current && current.type === "optional" && current.wrapped) current = current.wrapped as typeof current;
  return current;
}
