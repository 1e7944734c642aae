import { describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launchdEnvironment, serviceEnvironment, SERVICE_DEFINITIONS, systemdEnvironment, winswEnvironment } from "../../packaging/serviceEnvironment.ts";
import { loadConfig } from "../../src/config/load.ts";
import { compiledBinary } from "../helpers/binary.ts";
import { REPO } from "../helpers/fakeNvml.ts";

function installer(root: string, ...args: string[]) {
  const run = Bun.spawnSync(["sh", join(REPO, "packaging/install.sh"), ...args], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", GPU_MONITOR_ROOT: root },
    stdout: "pipe",
    stderr: "pipe",
  });
  return { exitCode: run.exitCode, stdout: run.stdout.toString(), stderr: run.stderr.toString() };
}

describe("packaging/install.sh", () => {
  test("installs binary, config and unit; a second run changes nothing; uninstall keeps the data unless --purge", () => {
    const root = mkdtempSync(join(tmpdir(), "gpu-monitor-root-"));
    const first = installer(root, "install", "--binary", compiledBinary());
    expect(first.exitCode).toBe(0);
    const binary = join(root, "usr/local/bin/gpu_monitor");
    const config = join(root, "etc/gpu_monitor/config.json");
    const unit = join(root, "etc/systemd/system/gpu-monitor.service");
    expect(statSync(binary).mode & 0o777).toBe(0o755);
    expect(statSync(config).mode & 0o777).toBe(0o640);
    expect(readFileSync(unit, "utf8")).toContain("Type=notify");
    // The config it writes is valid, and a second run keeps a config that was edited.
    expect(loadConfig({ explicitPath: config, env: {}, cwd: root, platform: "linux", home: root }).config.database.file).toBe(
      "/var/lib/gpu_monitor/gpu_metrics.db",
    );
    writeFileSync(config, '{ "collection": { "interval_seconds": 30 } }');
    expect(installer(root, "install", "--binary", compiledBinary()).exitCode).toBe(0);
    expect(readFileSync(config, "utf8")).toContain('"interval_seconds": 30');

    expect(installer(root, "uninstall").exitCode).toBe(0);
    expect(existsSync(binary)).toBe(false);
    expect(existsSync(unit)).toBe(false);
    expect(existsSync(config)).toBe(true);
    expect(installer(root, "uninstall", "--purge").exitCode).toBe(0);
    expect(existsSync(join(root, "etc/gpu_monitor"))).toBe(false);
  });

  /** A release folder: the binary under its release name, and SHA256SUMS (its digest, or `digest`). */
  function releaseFolder(digest?: string): string {
    const folder = mkdtempSync(join(tmpdir(), "gpu-monitor-release-"));
    copyFileSync(compiledBinary(), join(folder, "gpu_monitor-linux-x64"));
    const actual = new Bun.CryptoHasher("sha256").update(readFileSync(compiledBinary())).digest("hex");
    writeFileSync(join(folder, "SHA256SUMS"), `${"0".repeat(64)}  other-file\n${digest ?? actual}  gpu_monitor-linux-x64\n`);
    return join(folder, "gpu_monitor-linux-x64");
  }

  /** A binary that is not the compiled one: a script that runs it, or does something else. */
  function scriptBinary(body: string): string {
    const path = join(mkdtempSync(join(tmpdir(), "gpu-monitor-script-")), "gpu_monitor");
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
    return path;
  }

  test("a binary that does not match its SHA256SUMS line is refused, naming the file; a matching one installs", () => {
    const root = mkdtempSync(join(tmpdir(), "gpu-monitor-root-"));
    const tampered = releaseFolder("1".repeat(64));
    const refused = installer(root, "install", "--binary", tampered);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain(`${tampered} does not match its SHA256SUMS entry`);
    expect(existsSync(join(root, "usr/local/bin/gpu_monitor"))).toBe(false);

    const verified = installer(root, "install", "--binary", releaseFolder());
    expect(verified.stderr).not.toContain("not verified");
    expect(verified.exitCode).toBe(0);
  });

  test("a new binary that cannot start, or rejects the config in place, does not replace the installed one", () => {
    const root = mkdtempSync(join(tmpdir(), "gpu-monitor-root-"));
    const binary = join(root, "usr/local/bin/gpu_monitor");
    expect(installer(root, "install", "--binary", compiledBinary()).exitCode).toBe(0);

    const broken = installer(root, "install", "--binary", scriptBinary("echo 'Segmentation fault' >&2; exit 139"));
    expect(broken.exitCode).toBe(1);
    expect(broken.stderr).toContain("--version failed");
    const rejecting = installer(
      root,
      "install",
      "--binary",
      scriptBinary('[ "$1" = doctor ] || exit 0\necho "FAIL  config    unknown key collection.interval_seconds"; exit 1'),
    );
    expect(rejecting.exitCode).toBe(1);
    expect(rejecting.stderr).toContain("FAIL  config");
    expect(readFileSync(binary).equals(readFileSync(compiledBinary()))).toBe(true);
  });

  test("rollback puts back the binary the last install replaced", () => {
    const root = mkdtempSync(join(tmpdir(), "gpu-monitor-root-"));
    const binary = join(root, "usr/local/bin/gpu_monitor");
    expect(installer(root, "rollback").exitCode).toBe(1); // nothing installed yet
    expect(installer(root, "install", "--binary", compiledBinary()).exitCode).toBe(0);
    const newer = scriptBinary(`exec ${compiledBinary()} "$@"`);
    expect(installer(root, "install", "--binary", newer).exitCode).toBe(0);
    expect(readFileSync(binary, "utf8")).toBe(readFileSync(newer, "utf8"));

    const rollback = installer(root, "--rollback");
    expect(rollback.exitCode).toBe(0);
    expect(rollback.stdout).toContain("rolled back to");
    expect(readFileSync(binary).equals(readFileSync(compiledBinary()))).toBe(true);
    expect(statSync(binary).mode & 0o777).toBe(0o755);
  });

  test("a unit file changed here is kept, with the way to see the difference; an unchanged one is updated", () => {
    const root = mkdtempSync(join(tmpdir(), "gpu-monitor-root-"));
    const unit = join(root, "etc/systemd/system/gpu-monitor.service");
    expect(installer(root, "install", "--binary", compiledBinary()).exitCode).toBe(0);
    // As left by an install of an older version: the unit as that version shipped it.
    const older = readFileSync(unit, "utf8").replace("RestartSec=10", "RestartSec=5");
    writeFileSync(unit, older);
    writeFileSync(join(root, "usr/local/lib/gpu_monitor/gpu-monitor.service"), older);
    const updated = installer(root, "install", "--binary", compiledBinary());
    expect(updated.stderr).not.toContain("was changed here");
    expect(readFileSync(unit, "utf8")).toBe(readFileSync(join(REPO, "packaging/systemd/gpu-monitor.service"), "utf8"));

    writeFileSync(unit, `${readFileSync(unit, "utf8")}\n# ours: CPUQuota=5%\n`);
    const kept = installer(root, "install", "--binary", compiledBinary());
    expect(kept.exitCode).toBe(0);
    expect(kept.stderr).toContain(`${unit} was changed here: kept it`);
    expect(kept.stderr).toContain(`diff -u ${unit} ${join(root, "usr/local/lib/gpu_monitor/gpu-monitor.service")}`);
    expect(readFileSync(unit, "utf8")).toContain("# ours: CPUQuota=5%");
  });

  test("without a binary it says what to pass", () => {
    const run = installer(mkdtempSync(join(tmpdir(), "gpu-monitor-root-")), "install", "--binary", "/nonexistent");
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain("pass --binary PATH");
  });

  test("the systemd unit passes systemd-analyze verify and keeps NVML usable", () => {
    const unit = readFileSync(join(REPO, "packaging/systemd/gpu-monitor.service"), "utf8");
    expect(unit).toContain("DeviceAllow=char-nvidia* rw");
    expect(unit).toContain("PrivateDevices=no");
    expect(unit).not.toMatch(/^MemoryDenyWriteExecute=yes/m); // bun:ffi needs the JIT
    const analyze = Bun.which("systemd-analyze");
    if (!analyze) return; // not on this machine: the content checks above still ran
    const dir = mkdtempSync(join(tmpdir(), "unit-"));
    const copy = join(dir, "gpu-monitor.service");
    writeFileSync(copy, unit.replaceAll("/usr/local/bin/gpu_monitor", "/bin/true"));
    const verify = Bun.spawnSync([analyze, "verify", copy], { stderr: "pipe" });
    expect(verify.stderr.toString().trim()).toBe("");
    expect(verify.exitCode).toBe(0);
  });

  test("the launchd plist and the WinSW service file name the binary and its run command", () => {
    const plist = readFileSync(join(REPO, "packaging/launchd/com.targoman.gpu-monitor.plist"), "utf8");
    expect(plist).toContain("<string>com.targoman.gpu-monitor</string>");
    expect(plist).toMatch(/<key>ProgramArguments<\/key>\s*<array>\s*<string>\/usr\/local\/bin\/gpu_monitor<\/string>\s*<string>run<\/string>/);
    const winsw = readFileSync(join(REPO, "packaging/windows/gpu_monitor-service.xml"), "utf8");
    expect(winsw).toContain("<executable>%BASE%\\gpu_monitor.exe</executable>");
    expect(winsw).toContain("<arguments>run ");
    const python = Bun.which("python3");
    if (!python) return; // launchd's parser is not here; Python's plistlib reads the same format
    const lint = Bun.spawnSync([python, "-c", "import plistlib, sys; plistlib.load(open(sys.argv[1], 'rb'))", SERVICE_DEFINITIONS.launchd], {
      stderr: "pipe",
    });
    expect(lint.stderr.toString()).toBe("");
  });
});

describe("the service definitions' environment", () => {
  test("systemd, launchd and WinSW give the agent the same engine settings", () => {
    const systemd = serviceEnvironment("systemd");
    expect(serviceEnvironment("launchd")).toEqual(systemd);
    expect(serviceEnvironment("winsw")).toEqual(systemd);
    // Each is an engine setting Bun reads at start (test/bench/README.md has what each saves).
    for (const name of Object.keys(systemd)) expect(name).toMatch(/^(BUN_|MIMALLOC_)/);
  });

  test("each format's variables are read as its service manager reads them", () => {
    expect(systemdEnvironment("[Service]\nEnvironment=A=1 B=-1\nEnvironment=C=x\n[Install]\nEnvironment=D=2\n")).toEqual({
      A: "1",
      B: "-1",
      C: "x",
    });
    expect(
      launchdEnvironment(
        "<dict><key>Label</key><string>x</string><key>EnvironmentVariables</key>\n<dict>\n<!-- why -->\n<key>A</key>\n<string>1</string>\n<!-- <key>B</key><string>2</string> -->\n</dict></dict>",
      ),
    ).toEqual({ A: "1" });
    expect(winswEnvironment('<service><!-- <env name="B" value="2"/> --><env name="A" value="-1"/></service>')).toEqual({ A: "-1" });
  });
});
