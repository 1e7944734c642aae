import { describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { acquireAgentLock, AgentLockError, lockPath, runningAgentPid } from "../../src/store/lock.ts";
import { tempDatabase } from "../helpers/samples.ts";

describe("one agent per database", () => {
  test("a second agent is refused and told the running one's pid", async () => {
    const file = tempDatabase();
    const other = Bun.spawn(["sleep", "30"]);
    writeFileSync(lockPath(file), `${other.pid}\n`);
    try {
      expect(() => acquireAgentLock(file)).toThrow(AgentLockError);
      expect(() => acquireAgentLock(file)).toThrow(`another gpu_monitor agent (pid ${other.pid}) is already running`);
      expect(runningAgentPid(file)).toBe(other.pid);
    } finally {
      other.kill();
      await other.exited;
    }
  });

  test("a stale lock left by an agent that died is taken over", async () => {
    const file = tempDatabase();
    const dead = Bun.spawn(["true"]);
    await dead.exited;
    writeFileSync(lockPath(file), `${dead.pid}\n`);
    const lock = acquireAgentLock(file);
    expect(runningAgentPid(file)).toBe(process.pid);
    lock.release();
    expect(existsSync(lockPath(file))).toBe(false);
  });

  test("release leaves a lock that is not ours alone", () => {
    const file = tempDatabase();
    const lock = acquireAgentLock(file);
    writeFileSync(lockPath(file), "1\n");
    lock.release();
    expect(existsSync(lockPath(file))).toBe(true);
  });
});
