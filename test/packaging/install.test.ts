import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
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
