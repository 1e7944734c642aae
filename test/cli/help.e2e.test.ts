// The compiled binary's help and version, as a user asks for them.

import { beforeAll, describe, expect, test } from "bun:test";
import { compiledBinary, runBinary, TEST_VERSION } from "../helpers/binary.ts";

beforeAll(() => compiledBinary());

const COMMANDS = ["run", "snapshot", "export", "send", "status", "doctor", "usage"];

describe("help", () => {
  for (const name of COMMANDS) {
    test(`${name} --help, ${name} -h and help ${name} print the same page: Usage, options, examples, exit codes`, () => {
      const flag = runBinary([name, "--help"]);
      expect(flag.exitCode).toBe(0);
      expect(flag.stderr).toBe("");
      expect(flag.stdout).toStartWith(`Usage: gpu_monitor ${name} `);
      expect(flag.stdout.split("\n")[2]!.length).toBeGreaterThan(10); // the one-line description
      for (const heading of ["\nOptions:\n", "\nExamples:\n", "\nExit codes:\n", "  -h, --help"]) expect(flag.stdout).toContain(heading);
      expect(flag.stdout.match(/^ {2}\$ gpu_monitor /gm)).toHaveLength(2);
      expect(flag.stdout).not.toContain("\x1b"); // no colour codes in a pipe
      expect(runBinary([name, "-h"]).stdout).toBe(flag.stdout);
      const word = runBinary(["help", name]);
      expect(word.exitCode).toBe(0);
      expect(word.stdout).toBe(flag.stdout);
    });
  }

  test("snapshot --help shows the defaults and every exit code", () => {
    const text = runBinary(["snapshot", "--help"]).stdout;
    expect(text).toStartWith("Usage: gpu_monitor snapshot [options]\n\nRead every GPU now and print it");
    expect(text).toMatch(/^ {2}-f, --format <table\|json\|csv> +Output format: table, json or csv \(default:/m);
    expect(text).toContain("Exit codes:\n  0  success; --watch: stopped by Ctrl-C or SIGTERM\n  1  a GPU could not be read (the others are still printed)\n  2  bad usage or config\n  3  NVML unavailable");
  });

  test("help alone and --help print the overview: every command, the legacy flags, exit codes", () => {
    const overview = runBinary(["help"]);
    expect(overview.exitCode).toBe(0);
    expect(overview.stdout).toBe(runBinary(["--help"]).stdout);
    expect(overview.stdout).toStartWith("Usage: gpu_monitor ");
    for (const name of [...COMMANDS, "help [COMMAND]", "version", "-sc, --show-collection", "-V, --version"]) expect(overview.stdout).toContain(name);
    expect(overview.stdout).toContain("\nExit codes:\n  0  success\n");
  });

  test("help for a command that does not exist: exit 2 with the nearest one", () => {
    const run = runBinary(["help", "snapsot"]);
    expect(run.stderr).toBe("gpu_monitor: usage error: no command 'snapsot' (did you mean snapshot?); the commands are run, snapshot, export, send, status, doctor, usage, report\n");
    expect(run.stdout).toBe("");
    expect(run.exitCode).toBe(2);
  });
});

describe("version", () => {
  test("version, -V and --version print the version", () => {
    for (const args of [["version"], ["-V"], ["--version"]]) {
      const run = runBinary(args);
      expect({ args, stdout: run.stdout, exitCode: run.exitCode }).toEqual({ args, stdout: `${TEST_VERSION}\n`, exitCode: 0 });
    }
  });
});
