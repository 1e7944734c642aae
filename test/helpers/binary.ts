// Builds the compiled gpu_monitor once per test run and runs it like a user would.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../../packaging/build.ts";
import { REPO } from "./fakeNvml.ts";

export const TEST_VERSION = "0.0.0-test";
let built: string | null = null;

export function compiledBinary(): string {
  if (built) return built;
  const outfile = join(REPO, ".cache/bin", process.platform === "win32" ? "gpu_monitor.exe" : "gpu_monitor");
  compile({ outfile, version: TEST_VERSION });
  built = outfile;
  return built;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs the binary in an empty temporary folder with only the environment given (plus PATH). */
export function runBinary(args: string[], env: Record<string, string> = {}, cwd?: string): RunResult {
  const result = Bun.spawnSync([compiledBinary(), ...args], {
    cwd: cwd ?? mkdtempSync(join(tmpdir(), "gpu-monitor-run-")),
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  return { exitCode: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

/** Like runBinary, without blocking this process: needed when the binary talks to a server running in the test. */
export async function runBinaryAsync(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<RunResult> {
  const child = Bun.spawn([compiledBinary(), ...args], {
    cwd: cwd ?? mkdtempSync(join(tmpdir(), "gpu-monitor-run-")),
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  return { exitCode, stdout, stderr };
}

export interface RunningAgent {
  process: ReturnType<typeof Bun.spawn>;
  /** Everything written to stderr so far. */
  log(): string;
  /** Resolves true once stderr holds `text`, false after `timeoutMs`. */
  waitFor(text: string, timeoutMs?: number): Promise<boolean>;
  /** Sends `signal`, waits for the exit and the rest of stderr. */
  stop(signal?: NodeJS.Signals): Promise<{ exitCode: number; log: string }>;
}

/** Starts the compiled binary (usually `run`) in the background, collecting its stderr. */
export function spawnAgent(args: string[], env: Record<string, string>, cwd: string): RunningAgent {
  const child = Bun.spawn([compiledBinary(), ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    stdout: "ignore",
    stderr: "pipe",
  });
  let stderr = "";
  const reading = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr as ReadableStream<Uint8Array>) stderr += decoder.decode(chunk);
  })();
  return {
    process: child,
    log: () => stderr,
    async waitFor(text, timeoutMs = 8000) {
      const until = Date.now() + timeoutMs;
      while (!stderr.includes(text) && Date.now() < until) await Bun.sleep(50);
      return stderr.includes(text);
    },
    async stop(signal = "SIGTERM") {
      child.kill(signal);
      const exitCode = await child.exited;
      await reading;
      return { exitCode, log: stderr };
    },
  };
}
