// The service definitions as their managers read them: the systemd unit verified and
// scored by systemd-analyze, the launchd plist parsed as launchd would.

import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serviceEnvironment, SERVICE_DEFINITIONS } from "../../packaging/serviceEnvironment.ts";
import { REPO } from "../helpers/fakeNvml.ts";

const unit = readFileSync(SERVICE_DEFINITIONS.systemd, "utf8");
const analyze = Bun.which("systemd-analyze");

/** The unit with a binary that exists here, as systemd-analyze checks ExecStart=. */
function unitCopy(): string {
  const copy = join(mkdtempSync(join(tmpdir(), "unit-")), "gpu-monitor.service");
  writeFileSync(copy, unit.replaceAll("/usr/local/bin/gpu_monitor", "/bin/true"));
  return copy;
}

/** `→ Overall exposure level for x.service: 3.2 OK` */
function exposureLevel(output: string): number | null {
  const match = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(output);
  return match ? Number(match[1]) : null;
}

describe("the systemd unit", () => {
  test("starts on any host: no group it may lack, no credential file it must have", () => {
    expect(unit).not.toMatch(/^SupplementaryGroups=/m);
    expect(unit).toContain("LoadCredential=token:/etc/gpu_monitor/token");
    expect(unit).toMatch(/^SetCredential=token:/m); // the fallback that makes a missing file non-fatal
    expect(unit).toContain("EnvironmentFile=-/etc/gpu_monitor/env");
    expect(unit).toContain("DeviceAllow=char-nvidia* rw");
    expect(unit).not.toMatch(/^MemoryDenyWriteExecute=yes/m); // bun:ffi needs the JIT
  });

  test.skipIf(!analyze)("passes systemd-analyze verify", () => {
    const verify = Bun.spawnSync([analyze!, "verify", unitCopy()], { stderr: "pipe" });
    expect(verify.stderr.toString().trim()).toBe("");
    expect(verify.exitCode).toBe(0);
  });

  test.skipIf(!analyze)("systemd-analyze security scores its exposure 5.0 or lower", () => {
    const run = Bun.spawnSync([analyze!, "security", "--offline=true", "--no-pager", unitCopy()], { stdout: "pipe", stderr: "pipe" });
    const output = run.stdout.toString() + run.stderr.toString();
    if (/unrecognized option|Unknown command verb/.test(output)) return; // a systemd before 250 has no offline mode
    const level = exposureLevel(output);
    expect(level).not.toBeNull();
    expect(level!).toBeLessThanOrEqual(5.0);
  });

  test("the score is read from systemd-analyze's last line", () => {
    expect(exposureLevel("✗ UMask= ...  0.1\n\n→ Overall exposure level for gpu-monitor.service: 3.2 OK 🙂")).toBe(3.2);
    expect(exposureLevel("→ Overall exposure level for a.service: 10 UNSAFE 😨")).toBe(10);
    expect(exposureLevel("nothing")).toBeNull();
  });
});

describe("the OpenRC service (Alpine)", () => {
  const script = readFileSync(join(REPO, "packaging/openrc/gpu-monitor"), "utf8");

  test("is valid sh that runs the agent as its own user under supervise-daemon, and reloads with SIGHUP", () => {
    expect(Bun.spawnSync(["sh", "-n", join(REPO, "packaging/openrc/gpu-monitor")]).exitCode).toBe(0);
    expect(script.startsWith("#!/sbin/openrc-run\n")).toBe(true);
    expect(script).toContain('supervisor="supervise-daemon"');
    expect(script).toContain("/usr/local/bin/gpu_monitor}");
    expect(script).toContain('command_args="run --config ${GPU_MONITOR_CONFIG_FILE:-/etc/gpu_monitor/config.json}"');
    expect(script).toContain('command_user="gpu-monitor:gpu-monitor"');
    expect(script).toMatch(/^reload\(\) \{\n(\t.*\n)*\tsupervise-daemon "\$\{RC_SVCNAME\}" --signal HUP\n/m);
  });

  test("gives the agent the same engine settings as the systemd unit", () => {
    const exported = Object.fromEntries([...script.matchAll(/^export (\w+)=(\S+)$/gm)].map((match) => [match[1], match[2]]));
    expect(exported).toEqual(serviceEnvironment("systemd"));
  });
});

describe("the launchd plist", () => {
  const python = Bun.which("python3");

  test.skipIf(!python)("parses as a property list, runs as its own user and logs to a folder that install makes", () => {
    // plutil is macOS-only; Python's plistlib reads the same format as strictly.
    const read = Bun.spawnSync(
      [python!, "-c", "import json, plistlib, sys; print(json.dumps(plistlib.load(open(sys.argv[1], 'rb'))))", SERVICE_DEFINITIONS.launchd],
      { stdout: "pipe", stderr: "pipe" },
    );
    expect(read.stderr.toString()).toBe("");
    const plist = JSON.parse(read.stdout.toString());
    expect(plist.Label).toBe("com.targoman.gpu-monitor");
    expect(plist.ProgramArguments.slice(0, 2)).toEqual(["/usr/local/bin/gpu_monitor", "run"]);
    expect(plist.UserName).toBe("_gpu_monitor");
    expect(plist.UserName).not.toBe("root");
    for (const path of [plist.StandardOutPath, plist.StandardErrorPath]) expect(path).toStartWith("/Library/Logs/gpu_monitor/");
    const text = readFileSync(SERVICE_DEFINITIONS.launchd, "utf8");
    expect(text).toContain("mkdir -p /Library/Logs/gpu_monitor"); // launchd does not create the folder
  });
});

describe("the Windows service (WinSW)", () => {
  const winsw = readFileSync(SERVICE_DEFINITIONS.winsw, "utf8");
  const install = readFileSync(join(REPO, "packaging/windows/install.ps1"), "utf8");

  test("runs as its virtual account, not LocalSystem, with its logs where that account may write", () => {
    expect(winsw).not.toMatch(/<serviceaccount>/); // WinSW would set the account at install; sc.exe sets it on every run
    expect(install).toContain('sc.exe config gpu-monitor obj= "NT SERVICE\\gpu-monitor"');
    expect(winsw).toContain("<logpath>%ProgramData%\\gpu_monitor\\logs</logpath>");
  });

  test("install.ps1 leaves the data folder to Administrators and the service alone, after the account exists", () => {
    const grant = install.indexOf('icacls.exe $DataDir /inheritance:r /grant:r "*S-1-5-32-544:(OI)(CI)F" "NT SERVICE\\gpu-monitor:(OI)(CI)M"');
    expect(grant).toBeGreaterThan(install.indexOf("& $Service install"));
    expect(grant).toBeLessThan(install.indexOf("& $Service start"));
  });

  test("the service file is well-formed XML", () => {
    const python = Bun.which("python3");
    if (!python) return;
    const parse = Bun.spawnSync([python, "-c", "import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])", SERVICE_DEFINITIONS.winsw], { stderr: "pipe" });
    expect(parse.stderr.toString()).toBe("");
  });
});
