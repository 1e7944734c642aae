// Type=notify against a real unix datagram socket (a small C receiver), with the
// compiled agent as systemd would start it.

import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { unixAddress } from "../../src/platform/systemd.ts";
import { compiledBinary } from "../helpers/binary.ts";
import { compileProgram, fakeNvmlLibrary, scenarioFile } from "../helpers/fakeNvml.ts";

describe("the notify socket's address", () => {
  test("a path ends with its NUL; an abstract name (@) starts with one and has none at the end", () => {
    expect(unixAddress("/run/systemd/notify").length).toBe(2 + 19 + 1);
    const abstract = unixAddress("@gpu-monitor-test");
    expect(abstract.length).toBe(2 + 17);
    expect(abstract.bytes[2]).toBe(0);
    expect(new DataView(abstract.bytes.buffer).getUint16(0, true)).toBe(1); // AF_UNIX
  });
});

async function agentUnderSystemd(notifySocket: string): Promise<string[]> {
  const receiver = Bun.spawn([compileProgram("test/platform/notify_receiver.c", "notify_receiver"), notifySocket], { stdout: "pipe" });
  const lines: string[] = [];
  const reading = (async () => {
    const decoder = new TextDecoder();
    let pending = "";
    for await (const chunk of receiver.stdout as ReadableStream<Uint8Array>) {
      pending += decoder.decode(chunk);
      const parts = pending.split("\n");
      pending = parts.pop()!;
      lines.push(...parts);
    }
  })();
  while (!lines.includes("ready")) await Bun.sleep(20);
  const dir = mkdtempSync(join(tmpdir(), "gpu-monitor-notify-"));
  writeFileSync(join(dir, "config.json"), JSON.stringify({ collection: { interval_seconds: 1 }, database: { file: "g.db" }, logging: { file: "" } }));
  const agent = Bun.spawn([compiledBinary(), "run", "-c", join(dir, "config.json")], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      NOTIFY_SOCKET: notifySocket,
      WATCHDOG_USEC: "300000",
      GPU_MONITOR_NVML_LIBRARY: fakeNvmlLibrary("current"),
      FAKE_NVML_SCENARIO: scenarioFile("h100"),
    },
    stdout: "ignore",
    stderr: "ignore",
  });
  await Bun.sleep(2000);
  agent.kill("SIGTERM");
  expect(await agent.exited).toBe(0);
  await Bun.sleep(100);
  receiver.kill();
  await reading;
  return lines;
}

describe("Type=notify", () => {
  for (const [kind, socket] of [
    ["a socket path", join(mkdtempSync(join(tmpdir(), "notify-")), "notify.sock")],
    ["the abstract namespace", `@gpu-monitor-test-${process.pid}`],
  ] as const) {
    test(`READY, WATCHDOG every half WATCHDOG_USEC, STOPPING, on ${kind}`, async () => {
      const lines = await agentUnderSystemd(socket);
      expect(lines[1]).toBe("READY=1|STATUS=sampling every 1 s");
      expect(lines.filter((line) => line === "WATCHDOG=1").length).toBeGreaterThanOrEqual(6); // ~150 ms apart for ~2 s
      expect(lines.at(-1)).toBe("STOPPING=1");
    }, 20_000);
  }
});
