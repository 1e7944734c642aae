// The config file's shape (DESIGN section 4): the original tool's JSON layout
// plus our keys. Every object is strict, so a typo is an error, not a default.

import * as v from "valibot";

const LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const wholeNumber = (min: number, what = "a whole number") =>
  v.pipe(v.number(`${what}`), v.integer(`${what}`), v.minValue(min, `${what} of at least ${min}`));
const positiveNumber = (what: string) => v.pipe(v.number(what), v.gtValue(0, `${what} greater than 0`));
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
      timeout_seconds: v.optional(positiveNumber("a number of seconds"), 30),
      retry_initial_seconds: v.optional(positiveNumber("a number of seconds"), 60),
      retry_max_seconds: v.optional(positiveNumber("a number of seconds"), 3600),
      max_attempts: v.optional(wholeNumber(1), 10),
    }),
    {},
  ),
  collection: v.optional(
    v.strictObject({
      // Whole seconds: samples are stored with integer timestamps, one per tick.
      interval_seconds: v.optional(wholeNumber(1, "a whole number of seconds"), 60),
      aggregation_interval_hours: v.optional(positiveNumber("a number of hours"), 1),
      aggregation_interval_seconds: v.optional(wholeNumber(1, "a whole number of seconds")),
    }),
    {},
  ),
  database: v.optional(v.strictObject({ file: v.optional(nonEmptyText("a file path"), "gpu_metrics.db") }), {}),
  logging: v.optional(
    v.strictObject({
      file: v.optional(v.string("a file path (empty for none)"), "gpu_monitor.log"),
      level: v.optional(logLevel, "INFO"),
      max_size_mb: v.optional(positiveNumber("a size in MB"), 10),
      max_files: v.optional(wholeNumber(1), 5),
    }),
    {},
  ),
  retention: v.optional(
    v.strictObject({
      raw_days: v.optional(positiveNumber("a number of days"), 30),
      aggregated_days: v.optional(positiveNumber("a number of days"), 365),
    }),
    {},
  ),
  nvml: v.optional(v.strictObject({ library: v.optional(nonEmptyText("a full path to the NVML library")) }), {}),
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
