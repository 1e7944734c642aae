import { describe, expect, test } from "bun:test";
import { dayOfSamplesBytes, diskSpaceCheck, nvmlLoadFailure, processesCheck, runsOnMusl } from "../../src/doctor/checks.ts";
import { gpuSample } from "../helpers/samples.ts";

describe("free space against a day of samples", () => {
  test("a day needs about 29 bytes per GPU-sample plus overhead, from the interval and the GPU count", () => {
    expect(dayOfSamplesBytes(60, 1)).toBe(1440 * 29 * 1.5);
    expect(dayOfSamplesBytes(1, 8)).toBe(86_400 * 8 * 29 * 1.5); // about 30 MB
  });

  test("plenty of room passes, with the figures", () => {
    expect(diskSpaceCheck("/var/lib/g.db", 50e9, 1, 8)).toEqual({
      name: "disk",
      status: "pass",
      detail: "50.0 GB free where /var/lib/g.db lives; a day of samples needs about 30.1 MB (8 GPU(s), one every 1 s)",
    });
  });

  test("less than a day's worth warns", () => {
    const check = diskSpaceCheck("/var/lib/g.db", 20e6, 1, 8);
    expect(check.status).toBe("warn");
    expect(check.detail).toBe(
      "20.0 MB free where /var/lib/g.db lives; a day of samples needs about 30.1 MB (8 GPU(s), one every 1 s): less than a day's worth; free some space or shorten retention.raw_days",
    );
  });

  test("a full disk fails: the agent cannot store a sample", () => {
    const check = diskSpaceCheck("/var/lib/g.db", 0, 60, 2);
    expect(check.status).toBe("fail");
    expect(check.detail).toContain("the disk is full");
  });

  test("without NVML, one GPU is assumed and said so", () => {
    expect(diskSpaceCheck("/g.db", 50e9, 60, null).detail).toContain("(1 GPU(s) assumed, one every 60 s)");
  });
});

describe("NVML that does not load on a musl system", () => {
  test("musl: no glibc in the process and a musl loader in /lib", () => {
    expect(runsOnMusl(undefined, ["ld-musl-x86_64.so.1"])).toBe(true);
    expect(runsOnMusl(undefined, ["ld-musl-aarch64.so.1", "libc.musl-aarch64.so.1"])).toBe(true);
    expect(runsOnMusl("2.36", ["ld-musl-x86_64.so.1"])).toBe(false); // a glibc build beside musl
    expect(runsOnMusl(undefined, [])).toBe(false);
  });

  test("the failure names gcompat on musl only", () => {
    const message = "NVML not found: tried libnvidia-ml.so.1";
    expect(nvmlLoadFailure(message, false)).toBe(message);
    const hint = nvmlLoadFailure(message, true);
    expect(hint.startsWith(message)).toBe(true);
    expect(hint).toContain("built for glibc");
    expect(hint).toContain("apk add gcompat");
  });
});

describe("who uses the GPUs", () => {
  test("a refused process list warns with what to do", () => {
    const refused = gpuSample({ index: 1, processes: null, fieldErrors: { compute_processes: "NVML_ERROR_NO_PERMISSION" } });
    const check = processesCheck([gpuSample({ index: 0 }), refused], "on");
    expect(check.status).toBe("warn");
    expect(check.detail).toContain("NVML refuses the process list of GPU 1 (NO_PERMISSION)");
    expect(check.detail).toContain("--pid=host");
  });

  test("lists read: pass, saying so", () => {
    expect(processesCheck([gpuSample({ index: 0 })], "hashed")).toEqual({
      name: "users",
      status: "pass",
      detail: "process lists read on 1 of 1 GPU(s), 0 process(es) now; names, users and ids are stored hashed",
    });
  });
});
