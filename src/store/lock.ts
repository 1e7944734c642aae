// One agent per database, and one `send` at a time beside it. Where libc is
// available the lock is flock(2) on a file beside the database: the kernel
// releases it when the process dies, however it dies, so a stale lock and a
// reused pid cannot fool it. The file also names the holder's pid for messages.
// Elsewhere (Windows) it falls back to a pid file checked for a live process.

import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { libc, LOCK_EX, LOCK_NB, LOCK_SH, LOCK_UN } from "../platform/libc.ts";

export class AgentLockError extends Error {
  override readonly name = "AgentLockError";
  constructor(
    message: string,
    readonly pid: number | null,
  ) {
    super(message);
  }
}

export interface AgentLock {
  path: string;
  release(): void;
}

export function lockPath(databaseFile: string): string {
  return `${databaseFile}.lock`;
}

export function sendLockPath(databaseFile: string): string {
  return `${databaseFile}.send.lock`;
}

/** The pid holding the agent's lock, or null when no agent runs on this database. */
export function runningAgentPid(databaseFile: string): number | null {
  return lockHolder(lockPath(databaseFile));
}

/** Whether a `gpu_monitor send` is shipping from this database right now. */
export function sendInProgress(databaseFile: string): boolean {
  return lockHolder(sendLockPath(databaseFile)) !== null;
}

export function acquireAgentLock(databaseFile: string): AgentLock {
  return acquire(
    lockPath(databaseFile),
    (pid) => `another gpu_monitor agent (pid ${pid ?? "unknown"}) is already running on ${databaseFile}; stop it first`,
  );
}

export function acquireSendLock(databaseFile: string): AgentLock {
  return acquire(sendLockPath(databaseFile), (pid) => `another gpu_monitor send (pid ${pid ?? "unknown"}) is shipping from ${databaseFile}`);
}

function acquire(path: string, busy: (pid: number | null) => string): AgentLock {
  mkdirSync(dirname(path), { recursive: true });
  const c = libc();
  if (!c) return acquirePidFile(path, busy);
  const fd = openSync(path, "a+", 0o644);
  if (c.flock(fd, LOCK_EX | LOCK_NB) !== 0) {
    closeSync(fd);
    const pid = readPid(path);
    throw new AgentLockError(busy(pid), pid);
  }
  ftruncateSync(fd, 0);
  writeSync(fd, `${process.pid}\n`);
  let held = true;
  return {
    path,
    release: () => {
      if (!held) return;
      held = false;
      // Unlocked, not truncated: a write here would hang on a frozen filesystem, and the pid left
      // in the file is read only while someone holds the lock. The file stays: unlinking it would
      // let a waiter lock a deleted inode.
      c.flock(fd, LOCK_UN);
      closeSync(fd);
    },
  };
}

function lockHolder(path: string): number | null {
  const c = libc();
  if (!c) {
    const pid = readPid(path);
    return pid !== null && isAlive(pid) ? pid : null;
  }
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return null; // no lock file: nobody ever held it
  }
  try {
    if (c.flock(fd, LOCK_SH | LOCK_NB) === 0) {
      c.flock(fd, LOCK_UN);
      return null;
    }
    return readPid(path) ?? -1;
  } finally {
    closeSync(fd);
  }
}

// ---- pid-file fallback (no libc) -------------------------------------------------

function acquirePidFile(path: string, busy: (pid: number | null) => string): AgentLock {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, "wx", 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return { path, release: () => releasePidFile(path) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const pid = readPid(path);
      if (pid !== null && pid !== process.pid && isAlive(pid)) throw new AgentLockError(busy(pid), pid);
      try {
        unlinkSync(path); // stale: its agent is gone
      } catch {
        // another starter removed it first
      }
    }
  }
  throw new AgentLockError(busy(readPid(path)), readPid(path));
}

function releasePidFile(path: string): void {
  try {
    if (readPid(path) === process.pid) unlinkSync(path);
  } catch {
    // already gone
  }
}

function readPid(path: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(path, "utf8").trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
