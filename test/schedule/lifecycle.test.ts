// The stop path of the agent's lifecycle, with a stand-in for the agent: whatever
// the agent still waits for (a write that cannot return, on a frozen filesystem),
// SIGTERM ends the process with exit 0 within 2 s.

import { expect, test } from "bun:test";
import * as v from "valibot";
import { ConfigSchema } from "../../src/config/schema.ts";
import { startAgent, STOP_DEADLINE_MS } from "../../src/schedule/lifecycle.ts";

const loaded = { config: v.parse(ConfigSchema, { logging: { file: "" } }), file: null, warnings: [], offline: true };

/** Runs startAgent with a stand-in agent; `finish` says what the stand-in does once it is told to stop. */
async function stopWith(finish: "never" | "at once") {
  let exited: { code: number; afterMs: number } | null = null;
  let sentAt = 0;
  let release = () => {};
  const started = startAgent({ logLevel: "ERROR" }, loaded, () => undefined, {
    runAgent: ({ stop }) =>
      new Promise((resolve) => {
        release = () => resolve({ abandonedThread: false });
        // A write that never returns: the stand-in ignores the stop.
        if (finish === "at once") stop.addEventListener("abort", release, { once: true });
      }),
    exit: (code) => {
      exited = { code, afterMs: performance.now() - sentAt };
      release(); // lets the test's startAgent settle; a real exit ends the process here
    },
  });
  await Bun.sleep(50);
  sentAt = performance.now();
  process.emit("SIGTERM", "SIGTERM");
  await started;
  const stoppedAfterMs = performance.now() - sentAt;
  await Bun.sleep(STOP_DEADLINE_MS + 200); // a deadline left armed would fire by now
  return { exited: exited as { code: number; afterMs: number } | null, stoppedAfterMs };
}

test("SIGTERM while the agent waits on a write that never returns: exit 0 within 2 s", async () => {
  const { exited } = await stopWith("never");
  expect(exited).not.toBeNull();
  expect(exited!.code).toBe(0);
  expect(exited!.afterMs).toBeLessThan(2000);
  expect(exited!.afterMs).toBeGreaterThanOrEqual(STOP_DEADLINE_MS - 50);
});

test("an agent that stops in time returns normally: the deadline never fires", async () => {
  const { exited, stoppedAfterMs } = await stopWith("at once");
  expect(stoppedAfterMs).toBeLessThan(500);
  expect(exited).toBeNull();
});
