// Finding, reading and validating the config file. Errors name the file, the
// dotted key, what was expected and what was found; the CLI exits 2 on them.

import { existsSync, readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import * as v from "valibot";
import { closest } from "../util/closest.ts";
import { invalidUtf8Offset } from "../util/text.ts";
import { redactUrlCredentials, urlCredentials } from "../util/url.ts";
import { ConfigSchema, knownKeys, type Config } from "./schema.ts";

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

export interface LoadedConfig {
  config: Config;
  /** The file read, or null when none exists (offline defaults). */
  file: string | null;
  /** Deprecations and other things a person should fix, not fatal. */
  warnings: string[];
  /** `server.offline` of the original layout. */
  offline: boolean;
  /** Whether the file set logging.file itself (under systemd only then is there a log file). */
  logFileGiven?: boolean;
}

export interface ConfigSources {
  /** --config */
  explicitPath?: string | undefined;
  env: Record<string, string | undefined>;
  cwd: string;
  platform: NodeJS.Platform;
  home: string;
}

/** Where a config file is looked for, in order (DESIGN section 4). */
export function configSearchPaths(sources: Omit<ConfigSources, "explicitPath">): string[] {
  const { env, cwd, platform, home } = sources;
  const paths = [join(cwd, "config.json")];
  if (platform === "win32") {
    if (env.APPDATA) paths.push(join(env.APPDATA, "gpu_monitor", "config.json"));
    paths.push(join(env.ProgramData ?? "C:\\ProgramData", "gpu_monitor", "config.json"));
  } else {
    paths.push(join(home, ".gpu_monitor", "config.json"), "/etc/gpu_monitor/config.json");
  }
  return paths;
}

export function defaultSources(explicitPath?: string): ConfigSources {
  return { explicitPath, env: process.env, cwd: process.cwd(), platform: process.platform, home: homedir() };
}

export function loadConfig(sources: ConfigSources = defaultSources()): LoadedConfig {
  const chosen = sources.explicitPath ?? sources.env.GPU_MONITOR_CONFIG;
  if (chosen) {
    if (!existsSync(chosen)) throw new ConfigError(`config file ${chosen} does not exist`);
    return withEnvironment(readConfigFile(resolve(sources.cwd, chosen)), sources);
  }
  const found = configSearchPaths(sources).find((path) => existsSync(path));
  if (found) return withEnvironment(readConfigFile(found), sources);
  const defaults: LoadedConfig = { ...parseConfig({}, "(defaults)"), file: null };
  resolvePaths(defaults.config, sources.cwd);
  return withEnvironment(defaults, sources);
}

/**
 * What the service manager hands the agent wins over the file: the token from a systemd
 * credential, then GPU_MONITOR_TOKEN, then server.token. Under systemd (JOURNAL_STREAM or
 * INVOCATION_ID set) the journal keeps the log, so there is a log file only when the
 * config file names one itself.
 */
function withEnvironment(loaded: LoadedConfig, sources: ConfigSources): LoadedConfig {
  const { env, cwd } = sources;
  const token = credentialToken(env.CREDENTIALS_DIRECTORY) ?? (env.GPU_MONITOR_TOKEN || null);
  if (token) loaded.config.server.token = token;
  if (env.GPU_MONITOR_NVML_LIBRARY) loaded.config.nvml.library = resolve(cwd, env.GPU_MONITOR_NVML_LIBRARY);
  if (underSystemd(env) && !loaded.logFileGiven) loaded.config.logging.file = "";
  return loaded;
}

/** The `token` credential (LoadCredential=token:...); an empty one (the unit's SetCredential= fallback) is none. */
function credentialToken(directory: string | undefined): string | null {
  if (!directory) return null;
  try {
    return readFileSync(join(directory, "token"), "utf8").trim() || null;
  } catch {
    return null;
  }
}

export function underSystemd(env: Record<string, string | undefined>): boolean {
  return Boolean(env.JOURNAL_STREAM || env.INVOCATION_ID);
}

export function readConfigFile(file: string): LoadedConfig {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw new ConfigError(`config file ${file} cannot be read: ${(error as Error).message}`);
  }
  // Decoding would turn a bad byte into U+FFFD silently: a file in another encoding, or not text at all.
  const bad = invalidUtf8Offset(bytes);
  if (bad !== null) {
    throw new ConfigError(
      `config file ${file} is not valid UTF-8: byte 0x${bytes[bad]!.toString(16).padStart(2, "0")} at offset ${bad}; save it as UTF-8 text`,
    );
  }
  const text = bytes.toString("utf8");
  let raw: unknown;
  try {
    raw = text.trim() === "" ? {} : Bun.JSONC.parse(text);
  } catch (error) {
    throw new ConfigError(`config file ${file} is not valid JSON: ${(error as Error).message.replace(/^JSONC /, "")}`);
  }
  const loaded = parseConfig(raw, file);
  const result: LoadedConfig = { ...loaded, file };
  resolvePaths(result.config, dirname(file));
  const readable = worldReadable(file);
  if (result.config.server.token && readable) {
    result.warnings.push(`config file ${file} holds server.token and others can read it: ${restrictAccess(file)}`);
  }
  if (result.config.server.url && urlCredentials(result.config.server.url)?.password && readable) {
    result.warnings.push(`config file ${file} holds a password in server.url and others can read it: ${restrictAccess(file)}`);
  }
  return result;
}

/** Validates a parsed config object (pure). `file` names it in messages. */
export function parseConfig(raw: unknown, file: string): Omit<LoadedConfig, "file"> & { logFileGiven: boolean } {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`${file}: expected a JSON object at the top level, found ${describe(raw)}`);
  }
  // A section of the wrong type would otherwise read as an unknown key, or (a list) pass as empty.
  for (const [key, value] of Object.entries(raw)) {
    if ((SECTIONS.includes(key) || LEGACY_SECTIONS.includes(key)) && !isObject(value)) {
      throw new ConfigError(`${file}: ${key} must be an object, found ${kindOf(value)}`);
    }
  }
  const { migrated, warnings, offline } = migrateLegacyKeys(raw as Record<string, unknown>, file);
  const parsed = v.safeParse(ConfigSchema, migrated, { abortEarly: false });
  if (!parsed.success) throw new ConfigError(describeIssues(parsed.issues, file));
  const config = parsed.output;
  const logging = migrated.logging;
  const logFileGiven = isObject(logging) && logging.file !== undefined;
  if (config.server.retry_max_seconds < config.server.retry_initial_seconds) {
    throw new ConfigError(
      `${file}: server.retry_max_seconds (${config.server.retry_max_seconds}) must not be below server.retry_initial_seconds (${config.server.retry_initial_seconds})`,
    );
  }
  checkWindow(config.collection, file);
  if (Boolean(config.metrics.tls_cert) !== Boolean(config.metrics.tls_key)) {
    throw new ConfigError(`${file}: metrics.tls_cert and metrics.tls_key go together: set both or neither`);
  }
  return { config, warnings, offline, logFileGiven };
}

const SECTIONS = knownKeys([]);
const LEGACY_SECTIONS = ["intervals", "paths", "files"];

/**
 * A window holds a whole number of ticks: said as an error naming both values,
 * never rounded silently (0.001 h would have become 4 s).
 */
function checkWindow(collection: Config["collection"], file: string): void {
  const interval = collection.interval_seconds;
  const bySeconds = collection.aggregation_interval_seconds !== undefined;
  const windowSeconds = collection.aggregation_interval_seconds ?? collection.aggregation_interval_hours * 3600;
  const whole = Math.abs(windowSeconds - Math.round(windowSeconds)) < 1e-6; // 0.1 h is 360.00000000000006 s
  if (whole && Math.round(windowSeconds) % interval === 0) return;
  const shown = Number(windowSeconds.toPrecision(6));
  const what = bySeconds
    ? `collection.aggregation_interval_seconds (${shown} s)`
    : `collection.aggregation_interval_hours (${collection.aggregation_interval_hours} h = ${shown} s)`;
  throw new ConfigError(`${file}: ${what} must be a whole multiple of collection.interval_seconds (${interval} s)`);
}

/** The original tool's other layout, moved to today's keys with a warning each. */
const LEGACY_KEYS: ReadonlyArray<readonly [from: string, to: string]> = [
  ["intervals.collection", "collection.interval_seconds"],
  ["intervals.aggregation", "collection.aggregation_interval_hours"],
  ["paths.database", "database.file"],
  ["paths.log", "logging.file"],
  ["files.database", "database.file"],
  ["files.log", "logging.file"],
];

export function migrateLegacyKeys(
  raw: Record<string, unknown>,
  file: string,
): { migrated: Record<string, unknown>; warnings: string[]; offline: boolean } {
  const migrated = structuredClone(raw);
  const warnings: string[] = [];
  for (const [from, to] of LEGACY_KEYS) {
    const [fromSection, fromKey] = from.split(".") as [string, string];
    const section = migrated[fromSection];
    if (!isObject(section) || !(fromKey in section)) continue;
    const [toSection, toKey] = to.split(".") as [string, string];
    const target = isObject(migrated[toSection]) ? (migrated[toSection] as Record<string, unknown>) : {};
    if (!(toKey in target)) target[toKey] = section[fromKey];
    migrated[toSection] = target;
    delete section[fromKey];
    warnings.push(`${file}: ${from} is deprecated, use ${to}`);
  }
  for (const legacySection of ["intervals", "paths", "files"]) {
    const section = migrated[legacySection];
    if (isObject(section) && Object.keys(section).length === 0) delete migrated[legacySection];
  }
  let offline = false;
  const server = migrated.server;
  if (isObject(server) && "offline" in server) {
    if (typeof server.offline !== "boolean") {
      throw new ConfigError(`${file}: server.offline: expected true or false, found ${describe(server.offline)}`);
    }
    offline = server.offline;
    delete server.offline;
    warnings.push(`${file}: server.offline is deprecated, use the -o/--offline flag or leave server.url unset`);
  }
  return { migrated, warnings, offline };
}

function describeIssues(issues: readonly v.BaseIssue<unknown>[], file: string): string {
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const issue of issues) {
    const path = (issue.path ?? []).map((item) => String(item.key));
    const key = path.join(".") || "(top level)";
    if (seen.has(key)) continue; // one message per key: the first says what was expected
    seen.add(key);
    if (issue.type === "strict_object") {
      const parent = path.slice(0, -1);
      const hint = closest(path.at(-1) ?? "", knownKeys(parent));
      const where = parent.length ? ` in ${parent.join(".")}` : "";
      const known = knownKeys(parent).join(", ");
      lines.push(
        `${file}: unknown key ${key}${hint ? ` (did you mean ${[...parent, hint].join(".")}?)` : ""}; keys allowed${where}: ${known}`,
      );
    } else {
      lines.push(`${file}: ${key}: expected ${issue.message}, found ${describe(issue.input)}`);
    }
  }
  return lines.join("\n");
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  return redactUrlCredentials(JSON.stringify(value));
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function resolvePaths(config: Config, folder: string): void {
  const at = (path: string) => (isAbsolute(path) ? path : resolve(folder, path));
  config.database.file = at(config.database.file);
  if (config.logging.file) config.logging.file = at(config.logging.file);
  if (config.server.ca_file) config.server.ca_file = at(config.server.ca_file);
  if (config.nvml.library) config.nvml.library = at(config.nvml.library);
  if (config.metrics.tls_cert) config.metrics.tls_cert = at(config.metrics.tls_cert);
  if (config.metrics.tls_key) config.metrics.tls_key = at(config.metrics.tls_key);
}

function restrictAccess(file: string): string {
  if (process.platform !== "win32") return `chmod 600 ${file}`;
  return `icacls "${file}" /inheritance:r /grant:r *S-1-5-32-544:F "NT SERVICE\\gpu-monitor:M"`;
}

function worldReadable(file: string): boolean {
  if (process.platform === "win32") {
    const icacls = Bun.spawnSync(["icacls", file], { stdout: "pipe", stderr: "ignore" });
    return icacls.exitCode === 0 && othersWhoRead(icacls.stdout.toString()).length > 0;
  }
  try {
    return (statSync(file).mode & 0o044) !== 0;
  } catch {
    return false;
  }
}

/** Everyone, Users and Authenticated Users, by English name or by SID (icacls prints `*SID` when it cannot name one). */
const OTHERS = /(Everyone|BUILTIN\\Users|NT AUTHORITY\\Authenticated Users|\*S-1-1-0|\*S-1-5-32-545|\*S-1-5-11):((?:\([^)]*\))+)/gi;
/** Rights that include reading the file: full, modify, read(+execute), generic read/all, read data. */
const READ_RIGHTS = new Set(["F", "M", "RX", "R", "GR", "GA", "RD"]);

/**
 * Who of the many may read a file, from `icacls FILE` output (pure): each
 * `PRINCIPAL:(flags)(rights)` entry for Everyone, Users or Authenticated Users that
 * allows a reading right. A deny entry allows nothing, nor does an inherit-only one.
 */
export function othersWhoRead(icaclsOutput: string): string[] {
  const readers: string[] = [];
  for (const match of icaclsOutput.matchAll(OTHERS)) {
    const groups = [...match[2]!.matchAll(/\(([^)]*)\)/g)].map((group) => group[1]!.toUpperCase());
    if (groups.includes("DENY") || groups.includes("IO")) continue; // IO: inherited by children, not this file
    const rights = groups.flatMap((group) => group.split(","));
    if (rights.some((right) => READ_RIGHTS.has(right.trim())) && !readers.includes(match[1]!)) readers.push(match[1]!);
  }
  return readers;
}
