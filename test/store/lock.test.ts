import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { acquireAgentLock, acquireSendLock, AgentLockError, lockPath, runningAgentPid, sendInProgress } from "../../src/store/lock.ts";
import { REPO } from "../helpers/fakeNvml.ts";
import { tempDatabase } from "../helpers/samples.ts";

/** Another process that takes the agent lock on `file` and holds it until killed. */
async function holder(file: string) {
  const child = Bun.spawn(
    [process.execPath, "-e", `import { acquireAgentLock } from "${REPO}/src/store/lock.ts"; acquireAgentLock(${JSON.stringify(file)}); console.log("held"); await Bun.sleep(60000);`],
    { stdout: "pipe" },
  );
  const reader = child.stdout.getReader();
  await reader.read();
  return child;
}

describe("one agent per database", () => {
  test("a second agent is refused and told the running one's pid", async () => {
    const file = tempDatabase();
    const other = await holder(file);
    try {
      expect(() => acquireAgentLock(file)).toThrow(AgentLockError);
      expect(() => acquireAgentLock(file)).toThrow(`another gpu_monitor agent (pid ${other.pid}) is already running`);
      expect(runningAgentPid(file)).toBe(other.pid);
    } finally {
      other.kill("SIGKILL");
      await other.exited;
    }
    // Killed with -9: the kernel let go of the lock, so the next agent starts.
    expect(runningAgentPid(file)).toBeNull();
    acquireAgentLock(file).release();
  });

  test("a lock file naming a live but unrelated process (a reused pid) does not block", () => {
    const file = tempDatabase();
    writeFileSync(lockPath(file), "1\n"); // pid 1 is alive, and is not an agent
    expect(runningAgentPid(file)).toBeNull();
    const lock = acquireAgentLock(file);
    expect(runningAgentPid(file)).toBe(process.pid);
    lock.release();
    expect(runningAgentPid(file)).toBeNull();
  });

  test("a send lock is separate from the agent's", () => {
    const file = tempDatabase();
    const agent = acquireAgentLock(file);
    const send = acquireSendLock(file);
    expect(sendInProgress(file)).toBe(true);
    send.release();
    expect(sendInProgress(file)).toBe(false);
    agent.release();
  });
});
