// The .deb installed for real with dpkg (root, dpkg present: CI) and the .rpm read
// back with rpm (rpmbuild present); each is skipped with its reason elsewhere.
// Both are made from the suite's compiled binary by the functions build:all uses.

import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildDeb, buildRpm, debVersion, hostPackageArch, rpmVersionRelease } from "../../packaging/build.ts";
import { packagedUnit } from "../../packaging/linuxPackages.ts";
import { compiledBinary, TEST_VERSION } from "../helpers/binary.ts";
import { fakeNvmlLibrary, scenarioFile } from "../helpers/fakeNvml.ts";

const arch = hostPackageArch();
const CONFIG = "/etc/gpu_monitor/config.json";
const UNIT = "/lib/systemd/system/gpu-monitor.service";

function sh(args: string[], env: Record<string, string> = {}) {
  const run = Bun.spawnSync(args, { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env }, stdout: "pipe", stderr: "pipe" });
  return { exitCode: run.exitCode, stdout: run.stdout.toString(), stderr: run.stderr.toString() };
}

function installed(): boolean {
  return sh(["dpkg-query", "-W", "-f=${Status}", "gpu-monitor"]).stdout.includes("installed");
}

const debSkip =
  process.platform !== "linux"
    ? "not Linux"
    : process.getuid?.() !== 0
      ? "not root (dpkg -i needs it)"
      : !Bun.which("dpkg") || !Bun.which("dpkg-deb")
        ? "no dpkg/dpkg-deb"
        : !arch
          ? `no package for ${process.arch}`
          : sh(["dpkg-query", "-W", "gpu-monitor"]).exitCode === 0
            ? "a gpu-monitor package is already installed here: not touching it"
            : existsSync("/etc/gpu_monitor") || existsSync("/var/lib/gpu_monitor")
              ? "this machine has a gpu_monitor config or data (install.sh?) that a purge would remove"
              : null;
if (debSkip) console.log(`test/packaging/deb.test.ts: dpkg install test skipped: ${debSkip}`);

const rpmSkip = !Bun.which("rpmbuild") ? "rpmbuild is not installed (apt-get install rpm)" : !arch ? `no package for ${process.arch}` : null;
if (rpmSkip) console.log(`test/packaging/deb.test.ts: rpm test skipped: ${rpmSkip}`);

describe("package metadata", () => {
  test("our version maps to Debian's and to rpm's Version and Release", () => {
    expect(debVersion("0.1.0+3c5382b0ab")).toBe("0.1.0+3c5382b0ab");
    expect(debVersion("0.2.0-rc.1+abc")).toBe("0.2.0~rc.1+abc"); // no Debian revision; sorts before 0.2.0
    expect(rpmVersionRelease("0.1.0+3c5382b0ab")).toEqual({ version: "0.1.0", release: "1.3c5382b0ab" });
    expect(rpmVersionRelease("0.2.0-rc.1")).toEqual({ version: "0.2.0~rc.1", release: "1" });
  });

  test("the packaged unit runs /usr/bin/gpu_monitor, and only that line changes", () => {
    const unit = readFileSync(join(import.meta.dir, "../../packaging/systemd/gpu-monitor.service"), "utf8");
    const packaged = packagedUnit(unit);
    expect(packaged).toMatch(/^ExecStart=\/usr\/bin\/gpu_monitor /m);
    expect(packaged.split("\n").filter((line, at) => line !== unit.split("\n")[at]).length).toBeLessThanOrEqual(1);
    expect(() => packagedUnit("[Service]\nExecStart=/opt/x run\n")).toThrow("ExecStart=");
  });
});

describe("the .deb", () => {
  let cleanUp = false;
  afterAll(() => {
    if (cleanUp && installed()) sh(["dpkg", "-P", "gpu-monitor"]);
  });

  test.skipIf(debSkip !== null)(
    "installs, runs, keeps an edited config over an upgrade, removes the binary but not the data, purges the data",
    () => {
      const folder = mkdtempSync(join(tmpdir(), "gpu-monitor-deb-"));
      const first = buildDeb({ binary: compiledBinary(), arch: arch!, version: "0.0.0+test1", folder });
      const second = buildDeb({ binary: compiledBinary(), arch: arch!, version: "0.0.0+test2", folder });
      expect(first).toEndWith(`gpu_monitor_0.0.0+test1_${arch === "x64" ? "amd64" : "arm64"}.deb`);

      cleanUp = true;
      const install = sh(["dpkg", "-i", first]);
      expect(install.stderr).toBe("");
      expect(install.exitCode).toBe(0);
      expect(sh(["getent", "passwd", "gpu-monitor"]).stdout).toContain("/var/lib/gpu_monitor");
      expect(sh(["stat", "-c", "%a %U:%G", CONFIG]).stdout.trim()).toBe("640 root:gpu-monitor");
      expect(sh(["stat", "-c", "%U:%G", "/var/lib/gpu_monitor"]).stdout.trim()).toBe("gpu-monitor:gpu-monitor");
      // Enabled even with systemd not running (as in an image build), so a boot starts it.
      const wanted = "/etc/systemd/system/multi-user.target.wants/gpu-monitor.service";
      if (Bun.which("systemctl")) expect(existsSync(wanted)).toBe(true);

      // The unit runs the installed binary, and systemd accepts it.
      expect(readFileSync(UNIT, "utf8")).toMatch(/^ExecStart=\/usr\/bin\/gpu_monitor run --config \/etc\/gpu_monitor\/config.json$/m);
      if (Bun.which("systemd-analyze")) {
        const verify = sh(["systemd-analyze", "verify", UNIT]);
        expect(verify.stderr.trim()).toBe("");
        expect(verify.exitCode).toBe(0);
      }

      expect(sh(["/usr/bin/gpu_monitor", "--version"]).stdout).toContain(TEST_VERSION);
      const doctor = sh(["/usr/bin/gpu_monitor", "doctor", "--config", CONFIG], {
        GPU_MONITOR_NVML_LIBRARY: fakeNvmlLibrary("current"),
        FAKE_NVML_SCENARIO: scenarioFile("h100"),
      });
      expect(doctor.stdout).toContain(`PASS  config    ${CONFIG} is valid`);
      expect([0, 1]).toContain(doctor.exitCode);

      // An edited conffile survives an upgrade, and a database in the data folder stays.
      writeFileSync(CONFIG, readFileSync(CONFIG, "utf8").replace('"interval_seconds": 60', '"interval_seconds": 30'));
      writeFileSync("/var/lib/gpu_monitor/gpu_metrics.db", "kept");
      const upgrade = sh(["dpkg", "-i", second]);
      expect(upgrade.exitCode).toBe(0);
      expect(sh(["dpkg-query", "-W", "-f=${Version}", "gpu-monitor"]).stdout).toBe("0.0.0+test2");
      expect(readFileSync(CONFIG, "utf8")).toContain('"interval_seconds": 30');

      const remove = sh(["dpkg", "-r", "gpu-monitor"]);
      expect(remove.exitCode).toBe(0);
      expect(existsSync("/usr/bin/gpu_monitor")).toBe(false);
      expect(existsSync(UNIT)).toBe(false);
      expect(existsSync("/etc/systemd/system/multi-user.target.wants/gpu-monitor.service")).toBe(false);
      expect(readFileSync(CONFIG, "utf8")).toContain('"interval_seconds": 30');
      expect(existsSync("/var/lib/gpu_monitor/gpu_metrics.db")).toBe(true);

      const purge = sh(["dpkg", "-P", "gpu-monitor"]);
      expect(purge.exitCode).toBe(0);
      expect(existsSync(CONFIG)).toBe(false);
      expect(existsSync("/var/lib/gpu_monitor")).toBe(false);
    },
    120_000,
  );
});

describe("the .rpm", () => {
  test.skipIf(rpmSkip !== null)(
    "lists the binary, unit, config (noreplace) and data folder, and its digests check",
    () => {
      const folder = mkdtempSync(join(tmpdir(), "gpu-monitor-rpm-"));
      const rpm = buildRpm({ binary: compiledBinary(), arch: arch!, version: "0.0.0+test1", folder });
      const rpmArch = arch === "x64" ? "x86_64" : "aarch64";
      expect(rpm).toEndWith(`gpu_monitor-0.0.0-1.test1.${rpmArch}.rpm`);
      expect(sh(["rpm", "-qpl", rpm]).stdout.trim().split("\n").sort()).toEqual([
        "/etc/gpu_monitor",
        CONFIG,
        "/usr/bin/gpu_monitor",
        "/usr/lib/systemd/system/gpu-monitor.service",
        "/var/lib/gpu_monitor",
      ]);
      expect(sh(["rpm", "-qpc", rpm]).stdout.trim()).toBe(CONFIG);
      expect(sh(["rpm", "-qp", "--qf", "%{NAME} %{VERSION} %{RELEASE} %{ARCH}", rpm]).stdout).toBe(`gpu-monitor 0.0.0 1.test1 ${rpmArch}`);
      const scripts = sh(["rpm", "-qp", "--scripts", rpm]).stdout;
      expect(scripts).toContain("useradd --system");
      expect(scripts).not.toContain("rm -rf"); // erase never removes the data
      for (const scriptlet of scripts.split(/^\S+ scriptlet.*:$/m).slice(1)) {
        const dir = mkdtempSync(join(tmpdir(), "scriptlet-"));
        writeFileSync(join(dir, "s.sh"), scriptlet);
        expect(sh(["sh", "-n", join(dir, "s.sh")]).stderr).toBe("");
      }
      const check = sh(["rpm", "-K", rpm]);
      expect(check.stdout).toContain("digests OK");
      expect(check.exitCode).toBe(0);
    },
    60_000,
  );
});
