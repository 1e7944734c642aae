import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  inChildPidNamespace,
  NOT_IN_NAMESPACE,
  parseCgroup,
  parsePasswd,
  parseStartTicks,
  parseStatusUid,
  ProcessOwners,
  readBootId,
  type ProcSource,
} from "../../src/collect/processOwners.ts";

const FIXTURES = join(import.meta.dir, "../fixtures/cgroup");
const ID = "3f2a9c1d4b5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8";
const POD = "0f6b3a52-8d2c-4e1f-9a7b-5c3d2e1f0a9b";

describe("cgroup paths of each runtime", () => {
  test.each([
    ["docker-v1.txt", ID, null],
    ["docker-v2-systemd.txt", ID, null],
    ["containerd-v2.txt", ID, null],
    ["kubepods-v1-cgroupfs.txt", ID, POD],
    ["kubepods-v2-systemd-containerd.txt", ID, POD],
    ["kubepods-v2-crio.txt", ID, POD],
    // conmon watches the container from outside it: the pod, not a container
    ["crio-conmon-v2.txt", null, POD],
    ["host-v2.txt", null, null],
    ["host-v1-hybrid.txt", null, null],
  ])("%s", (file, containerId, podUid) => {
    expect(parseCgroup(readFileSync(join(FIXTURES, file), "utf8"))).toEqual({ containerId, podUid });
  });

  test("a cgroup namespace shows the container its root only: nothing to name", () => {
    expect(parseCgroup("0::/\n")).toEqual({ containerId: null, podUid: null });
  });
});

describe("/proc text", () => {
  test("the start time is field 22, after a name holding spaces and parentheses", () => {
    const stat = "4242 (python3 (train) x) S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 1234 56";
    expect(parseStartTicks(stat)).toBe(987654);
    expect(parseStartTicks("garbage")).toBeNull();
  });

  test("the real uid is the first of status's Uid line", () => {
    expect(parseStatusUid("Name:\tsleep\nUid:\t1001\t0\t0\t0\nGid:\t0\n")).toBe(1001);
    expect(parseStatusUid("Name:\tsleep\n")).toBeNull();
  });

  test("passwd: the first name of each uid", () => {
    expect([...parsePasswd("# c\nroot:x:0:0::/root:/bin/sh\nalice:x:1001:1001::/home/a:/bin/sh\ntoor:x:0:0::/:/bin/sh\nbroken\n")]).toEqual([
      [0, "root"],
      [1001, "alice"],
    ]);
  });
});

describe("owners", () => {
  function source(files: Record<string, string>, passwd = "alice:x:1001:1001::/:/bin/sh\n"): ProcSource & { reads: string[] } {
    const reads: string[] = [];
    return {
      reads,
      read: (pid, file) => {
        reads.push(`${pid}/${file}`);
        return files[`${pid}/${file}`] ?? null;
      },
      passwd: () => passwd,
      bootTime: () => 1_700_000_000,
    };
  }
  const stat = (start: number) => `77 (job) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 ${start} 0 0`;

  test("a pid reused by a new process is a new owner; a process listed tick after tick is looked up once", () => {
    const files: Record<string, string> = {
      "77/stat": stat(12_345),
      "77/status": "Uid:\t1001\t1001\t1001\t1001\n",
      "77/cgroup": readFileSync(join(FIXTURES, "docker-v2-systemd.txt"), "utf8"),
    };
    const proc = source(files);
    const owners = new ProcessOwners(proc);
    const first = owners.owner(77);
    expect(first).toEqual({ startTicks: 12_345, startedAt: 1_700_000_123, uid: 1001, user: "alice", containerId: ID, podUid: null, note: null });
    owners.retainOnly(new Set([77]));
    expect(owners.owner(77)).toBe(first);
    expect(proc.reads).toHaveLength(3); // stat, status, cgroup: once
    // The process ends (the pid leaves the list for a tick) and a new one gets its pid.
    owners.retainOnly(new Set());
    files["77/stat"] = stat(99_999);
    files["77/status"] = "Uid:\t4242\t4242\t4242\t4242\n";
    files["77/cgroup"] = "0::/\n";
    expect(owners.owner(77)).toMatchObject({ startTicks: 99_999, uid: 4242, user: "4242", containerId: null });
  });

  test("a pid with no /proc entry is kept, with the reason", () => {
    expect(new ProcessOwners(source({})).owner(4_000_000)).toEqual({
      startTicks: null,
      startedAt: null,
      uid: null,
      user: null,
      containerId: null,
      podUid: null,
      note: NOT_IN_NAMESPACE,
    });
  });
});

describe("real processes", () => {
  const children: Array<ReturnType<typeof Bun.spawn>> = [];
  afterAll(() => children.forEach((child) => child.kill()));

  test("a child's uid, user name and start time come from its /proc entry", () => {
    const child = Bun.spawn(["sleep", "30"]);
    children.push(child);
    const owner = new ProcessOwners().owner(child.pid);
    expect(owner.uid).toBe(process.getuid!());
    const passwd = parsePasswd(readFileSync("/etc/passwd", "utf8"));
    expect(owner.user).toBe(passwd.get(process.getuid!()) ?? String(process.getuid!()));
    expect(owner.startTicks).toBe(parseStartTicks(readFileSync(`/proc/${child.pid}/stat`, "utf8")));
    expect(Math.abs(owner.startedAt! - Date.now() / 1000)).toBeLessThan(5);
    expect(owner.note).toBeNull();
  });

  test.skipIf(process.getuid?.() !== 0)("a process of another user (root only: setpriv)", () => {
    const child = Bun.spawn(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sleep", "30"]);
    children.push(child);
    Bun.sleepSync(100); // setpriv execs sleep with the new uid
    const owner = new ProcessOwners().owner(child.pid);
    expect(owner.uid).toBe(65534);
    expect(owner.user).toBe(parsePasswd(readFileSync("/etc/passwd", "utf8")).get(65534) ?? "65534");
  });
});

describe("the agent's pid namespace and boot", () => {
  const status = (nspid: string) => `Name:\tgpu_monitor\nTgid:\t${nspid.split("\t").at(-1)}\nPid:\t${nspid.split("\t").at(-1)}\nNSpid:\t${nspid}\nUid:\t0\t0\t0\t0\n`;

  test("NSpid with more than one entry: the agent is in a child pid namespace", () => {
    expect(inChildPidNamespace(status("26992"))).toBe(false);
    expect(inChildPidNamespace(status("412807\t1"))).toBe(true);
    expect(inChildPidNamespace(status("412807\t2001\t7"))).toBe(true);
    // A kernel without NSpid (before 4.1): taken as the host's namespace.
    expect(inChildPidNamespace("Name:\tx\nPid:\t5\n")).toBe(false);
  });

  test("in a child pid namespace no NVML pid is looked up in /proc: another process may hold the number", () => {
    const reads: string[] = [];
    const source: ProcSource = {
      read: (pid, file) => {
        reads.push(`${pid}/${file}`);
        return `77 (someone-else) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 500 0 0`;
      },
      passwd: () => "",
      bootTime: () => 1_700_000_000,
      selfStatus: () => status("412807\t1"),
    };
    const owner = new ProcessOwners(source).owner(77);
    expect(owner).toMatchObject({ startTicks: null, user: null, note: NOT_IN_NAMESPACE });
    expect(reads).toEqual([]);
  });

  test("the boot id is read and trimmed; none when it cannot be read", () => {
    const file = join(mkdtempSync(join(tmpdir(), "boot-id-")), "boot_id");
    writeFileSync(file, "3f1c9a4e-2b7d-4e8f-9a0b-1c2d3e4f5a6b\n");
    expect(readBootId(file)).toBe("3f1c9a4e-2b7d-4e8f-9a0b-1c2d3e4f5a6b");
    expect(readBootId(`${file}.missing`)).toBe("");
  });
});
