// Opening the SQLite file: pragmas, migrations, and errors that say what to do.

import { Database, SQLiteError } from "bun:sqlite";
import { closeSync, existsSync, mkdirSync, openSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { MIGRATIONS, SCHEMA_VERSION } from "./schema.ts";

/**
 * What went wrong, for callers that act on it: a damaged file stops the agent; a
 * locked or full one is waited out with the ticks kept in memory.
 */
export type StoreFault = "corrupt" | "busy" | "full" | "unwritable" | "other";

export class StoreError extends Error {
  override readonly name = "StoreError";
  constructor(
    message: string,
    readonly fault: StoreFault = "other",
  ) {
    super(message);
  }
}

export interface OpenStoreOptions {
  /** Query commands open read-only: they never create or migrate a database. */
  readonly?: boolean;
  /** How long to wait for another connection's write lock (ms). */
  busyTimeoutMs?: number;
  /**
   * Whether to read every page first (PRAGMA quick_check), so a damaged file is named
   * before anything reads from it. Default: the agent always (once, at start); a query
   * command when the file is at most FULL_CHECK_MAX_BYTES, since the check reads the
   * whole file (0.5 s for 800 MB, hot) and an export of one hour reads a few MB of it.
   * On a larger file a query that meets a damaged page gets the same message.
   */
  checkIntegrity?: boolean;
}

/** Files up to this size are checked whole before a query: some 30 ms; a default setup's (60 s, 8 GPUs) stays below it for months. */
export const FULL_CHECK_MAX_BYTES = 64 * 1024 * 1024;

export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

/**
 * The oldest schema a read-only command reads as it is: later migrations only add
 * metric columns, which read as nulls where they are missing. Reading never writes.
 */
const READABLE_FROM_VERSION = 4;

/** The columns a table has now: a database from an older release lacks the newer metrics' columns. */
export function tableColumns(db: Database, table: string): Set<string> {
  return new Set((db.query(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).map((column) => column.name));
}

export function openDatabase(file: string, options: OpenStoreOptions = {}): Database {
  const readonly = options.readonly ?? false;
  if (readonly && !existsSync(file)) {
    throw new StoreError(`no database at ${file} yet: the agent creates it on its first sample (gpu_monitor run)`);
  }
  if (!readonly) createOwnerOnly(file);
  let db: Database;
  try {
    db = new Database(file, readonly ? { readonly: true, strict: true } : { readwrite: true, create: true, strict: true });
  } catch (error) {
    throw new StoreError(`cannot open database ${file}: ${(error as Error).message}`);
  }
  try {
    db.exec(`PRAGMA busy_timeout = ${options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS}`);
    // A corrupt or foreign file opens fine and fails on its first read: read now.
    const version = (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
    if (version > SCHEMA_VERSION) {
      throw new StoreError(
        `database ${file} was written by a newer gpu_monitor (schema ${version}, this one knows ${SCHEMA_VERSION}): upgrade gpu_monitor, or point database.file elsewhere`,
      );
    }
    if (options.checkIntegrity ?? checksWholeFile(readonly, fileBytes(file))) {
      // A damaged page deep in the file reads fine until something reads that page: say so now,
      // before a query prints what it could read or the agent writes next to the damage.
      const verdict = (db.query("PRAGMA quick_check(1)").get() as { quick_check: string }).quick_check;
      if (verdict !== "ok") throw new StoreError(corruptMessage(file, `quick_check: ${verdict}`), "corrupt");
    }
    if (!readonly) {
      db.exec("PRAGMA journal_mode = WAL"); // readers (query commands) never block the agent's writes
      // FULL: each tick's commit is fsynced, so even a power cut loses at most the
      // sample in flight. One fsync per tick (default every 60 s) costs nothing that matters.
      db.exec("PRAGMA synchronous = FULL");
      db.exec("PRAGMA foreign_keys = ON");
      // Checkpoint the WAL every ~1 MB instead of SQLite's 4 MB: the commit that
      // runs a checkpoint stalls for it, and a smaller one keeps every stall short.
      db.exec("PRAGMA wal_autocheckpoint = 256");
      migrate(db, version);
    } else if (version < READABLE_FROM_VERSION) {
      throw new StoreError(`database ${file} has an older schema (${version}); start the agent once to upgrade it`);
    }
    return db;
  } catch (error) {
    db.close();
    throw asStoreError(error, file);
  }
}

/** Whether an open reads every page first: the agent always, a query command on a file of at most FULL_CHECK_MAX_BYTES. */
export function checksWholeFile(readonly: boolean, bytes: number): boolean {
  return !readonly || bytes <= FULL_CHECK_MAX_BYTES;
}

/** The database with its WAL: what a full check reads. */
function fileBytes(file: string): number {
  return [file, `${file}-wal`].reduce((sum, path) => sum + (existsSync(path) ? statSync(path).size : 0), 0);
}

function migrate(db: Database, from: number): void {
  for (let version = from; version < SCHEMA_VERSION; version++) {
    db.transaction(() => {
      // A version may change nothing here (its metrics are on another branch of history).
      if (MIGRATIONS[version]!.trim() !== "") db.exec(MIGRATIONS[version]!);
      db.exec(`PRAGMA user_version = ${version + 1}`);
    })();
  }
}

/** The file and its folder exist, and the file is readable by its owner only. */
function createOwnerOnly(file: string): void {
  mkdirSync(dirname(file), { recursive: true });
  if (!existsSync(file)) closeSync(openSync(file, "a", 0o600));
}

/** Turns SQLite's codes into messages a person can act on; a damaged page met while reading gets the message the open gives. */
export function asStoreError(error: unknown, file: string): Error {
  if (error instanceof StoreError) return error;
  if (error instanceof SQLiteError) {
    const code = error.code ?? "";
    if (code.startsWith("SQLITE_NOTADB") || code.startsWith("SQLITE_CORRUPT")) return new StoreError(corruptMessage(file, code), "corrupt");
    if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
      return new StoreError(`database ${file} is locked by another process (${code}), still after waiting: try again later`, "busy");
    }
    if (code.startsWith("SQLITE_FULL")) return new StoreError(`database ${file}: the disk is full (${code})`, "full");
    if (code.startsWith("SQLITE_READONLY") || code.startsWith("SQLITE_CANTOPEN") || code.startsWith("SQLITE_IOERR")) {
      return new StoreError(`database ${file} cannot be written (${code}): ${error.message}`, "unwritable");
    }
    return new StoreError(`database ${file}: ${error.message} (${code})`);
  }
  return error instanceof Error ? error : new Error(String(error));
}

/** The one message for a damaged file, at open or found later: where it is, that we left it alone, what to do. */
function corruptMessage(file: string, found: string): string {
  return `database ${file} is corrupt or not a gpu_monitor database (${found}): move it aside (mv '${file}' '${file}.corrupt') and the agent starts a new one; it was not changed`;
}

/** Opens the database as the agent would (creating or migrating it) and asks SQLite whether it is sound: "ok", or what is wrong. */
export function quickCheck(file: string): string {
  const db = openDatabase(file, { checkIntegrity: false });
  try {
    return (db.query("PRAGMA quick_check").get() as { quick_check: string }).quick_check;
  } finally {
    db.close();
  }
}
