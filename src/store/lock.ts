// One agent per database: a lock file beside it holding the agent's pid.
// A lock left by an agent that died (kill -9, power loss) is taken over.

import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { dirname } from "node:path";

export class AgentLockError extends Error {
  override readonly name = "AgentLockError";
  constructor(
    message: string,
    readonly pid: number,
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

/** The pid in a lock file if that process is alive, else null. */
export function runningAgentPid(databaseFile: string): number | null {
  const pid = readPid(lockPath(databaseFile));
  return pid !== null && isAlive(pid) ? pid : null;
}

export function acquireAgentLock(databaseFile: string): AgentLock {
  const path = lockPath(databaseFile);
  mkdirSync(dirname(path), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, "wx", 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return { path, release: () => releaseIfOurs(path) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const pid = readPid(path);
      if (pid !== null && pid !== process.pid && isAlive(pid)) {
        throw new AgentLockError(
          `another gpu_monitor agent (pid ${pid}) is already running on ${databaseFile}; stop it first (lock file ${path})`,
          pid,
        );
      }
      unlinkSync(path); // stale: its agent is gone
    }
  }
  throw new Error(`could not take the lock ${path}`);
}

function releaseIfOurs(path: string): void {
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
    return (error as NodeJS.ErrnoException).code === "EPERM"; // alive, owned by someone else
  }
}
