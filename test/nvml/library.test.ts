import { describe, expect, test } from "bun:test";
import { installAdvice, nvmlCandidates } from "../../src/nvml/library.ts";

describe("where NVML is looked for", () => {
  test("an explicit path is the only candidate", () => {
    expect(nvmlCandidates({ platform: "linux", arch: "x64", env: {}, explicitPath: "/opt/nvml.so" })).toEqual([
      "/opt/nvml.so",
    ]);
  });
  test("Linux: the loader name, then absolute paths for the distro, containers, NixOS and WSL", () => {
    const paths = nvmlCandidates({ platform: "linux", arch: "x64", env: {} });
    expect(paths[0]).toBe("libnvidia-ml.so.1");
    expect(paths).toContain("/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1");
    expect(paths).toContain("/usr/lib64/libnvidia-ml.so.1");
    expect(paths).toContain("/usr/lib/wsl/lib/libnvidia-ml.so.1");
    expect(paths.slice(1).every((p) => p.startsWith("/"))).toBe(true);
  });
  test("arm64 looks in the aarch64 multiarch folder", () => {
    expect(nvmlCandidates({ platform: "linux", arch: "arm64", env: {} })).toContain(
      "/usr/lib/aarch64-linux-gnu/libnvidia-ml.so.1",
    );
  });
  test("a library of that name in the working directory disables the loader name", () => {
    const paths = nvmlCandidates({ platform: "linux", arch: "x64", env: {}, cwdHasLoaderName: true });
    expect(paths.every((p) => p.startsWith("/"))).toBe(true);
  });
  test("Windows: System32 and NVSMI, absolute only", () => {
    expect(
      nvmlCandidates({ platform: "win32", arch: "x64", env: { SystemRoot: "D:\\Win", ProgramW6432: "D:\\PF" } }),
    ).toEqual(["D:\\Win\\System32\\nvml.dll", "D:\\PF\\NVIDIA Corporation\\NVSMI\\nvml.dll"]);
  });
  test("macOS has no candidates and says why", () => {
    expect(nvmlCandidates({ platform: "darwin", arch: "arm64", env: {} })).toEqual([]);
    expect(installAdvice("darwin")).toContain("no driver or NVML for macOS");
  });
});
