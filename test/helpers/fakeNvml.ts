// Builds the fake libnvidia-ml from test/fake-nvml/fake_nvml.c with the system C
// compiler and points it at a scenario. Builds are cached under .cache/ by a hash
// of the source, so the suite compiles each variant once.

import { dlopen, FFIType, ptr } from "bun:ffi";
import { afterEach, beforeAll } from "bun:test";
import { openNvml, type Nvml } from "../../src/nvml/index.ts";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const REPO = resolve(import.meta.dir, "../..");
const SOURCE = join(REPO, "test/fake-nvml/fake_nvml.c");
export const SCENARIOS = join(REPO, "test/fake-nvml/scenarios");

/** "r520": driver 520 (NVML 11.8), GPM per GPU but not per GPU instance. */
export type DriverVariant = "current" | "old" | "r520";
const VARIANT_FLAGS: Record<DriverVariant, string[]> = { current: [], old: ["-DFAKE_NVML_OLD_DRIVER"], r520: ["-DFAKE_NVML_DRIVER_520"] };

/** Compiles (once per source version) and returns the path of libnvidia-ml.so.1. */
export function fakeNvmlLibrary(variant: DriverVariant = "current"): string {
  const source = readFileSync(SOURCE);
  const hash = createHash("sha256").update(source).update(variant).digest("hex").slice(0, 16);
  const folder = join(REPO, ".cache/fake-nvml", `${variant}-${hash}`);
  const library = join(folder, "libnvidia-ml.so.1");
  if (existsSync(library)) return library;
  mkdirSync(folder, { recursive: true });
  const partial = `${library}.${process.pid}.tmp`;
  const flags = VARIANT_FLAGS[variant];
  const result = Bun.spawnSync(
    ["cc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", ...flags, "-o", partial, SOURCE],
    { stderr: "pipe" },
  );
  if (result.exitCode !== 0) throw new Error(`compiling the fake NVML failed:\n${result.stderr.toString()}`);
  renameSync(partial, library); // atomic: parallel test files never load a half-written library
  return library;
}

/** Compiles a C program from test/ (e.g. the benchmark floor) and returns its path. */
export function compileProgram(relativeSource: string, name: string): string {
  const sourcePath = join(REPO, relativeSource);
  const hash = createHash("sha256").update(readFileSync(sourcePath)).digest("hex").slice(0, 16);
  const folder = join(REPO, ".cache/programs", `${name}-${hash}`);
  const program = join(folder, name);
  if (existsSync(program)) return program;
  mkdirSync(folder, { recursive: true });
  const partial = `${program}.${process.pid}.tmp`;
  const result = Bun.spawnSync(["cc", "-O2", "-o", partial, sourcePath, "-ldl"], { stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`compiling ${relativeSource} failed:\n${result.stderr.toString()}`);
  renameSync(partial, program);
  return program;
}

export function scenarioFile(name: string): string {
  return join(SCENARIOS, `${name}.conf`);
}

/** Writes a scenario given as text to a fresh temporary file. */
export function writeScenario(text: string): string {
  const folder = mkdtempSync(join(tmpdir(), "fake-nvml-"));
  const path = join(folder, "scenario.conf");
  writeFileSync(path, text);
  return path;
}

/**
 * For a test file that opens the fake library in this process: builds both
 * variants before its tests, closes what a test opened after it, and returns the
 * opener (a scenario file, by name or path).
 */
export function fakeNvmlSessions(): (scenario: string, variant?: DriverVariant) => Nvml {
  const libraries: Record<DriverVariant, string> = { current: "", old: "", r520: "" };
  let open: Nvml | null = null;
  beforeAll(() => {
    libraries.current = fakeNvmlLibrary("current");
    libraries.old = fakeNvmlLibrary("old");
    libraries.r520 = fakeNvmlLibrary("r520");
  });
  afterEach(() => {
    open?.close();
    open = null;
  });
  return (scenario, variant = "current") => {
    open?.close();
    useScenarioInProcess(scenario.includes("/") ? scenario : scenarioFile(scenario));
    open = openNvml({ libraryPath: libraries[variant] });
    return open;
  };
}

let libc: { symbols: { setenv: (name: number, value: number, overwrite: number) => number } } | null = null;

/**
 * Points the fake library loaded in this process at a scenario. Bun's
 * process.env does not reach the C environment, so this calls libc's setenv.
 */
export function useScenarioInProcess(path: string): void {
  libc ??= dlopen("libc.so.6", {
    setenv: { args: [FFIType.ptr, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  }) as unknown as typeof libc;
  const name = cString("FAKE_NVML_SCENARIO");
  const value = cString(path);
  libc!.symbols.setenv(ptr(name), ptr(value), 1); // setenv copies both strings
}

function cString(text: string): Buffer {
  return Buffer.from(`${text}\0`, "utf8");
}
