// Who owns a GPU process: its start time (which tells a reused pid from the
// process that had it before), user, and the container and Kubernetes pod its
// cgroup names. Read from /proc on Linux; the parsers are pure. A process whose
// pid is not in this pid namespace (the agent in a container, the process
// outside it) has no /proc entry: it is kept with its pid and that reason.

import { readFileSync } from "node:fs";

export interface ProcessOwner {
  /** /proc/<pid>/stat field 22: clock ticks after boot. null when the process cannot be seen. */
  startTicks: number | null;
  /** Unix seconds the process started, when known. */
  startedAt: number | null;
  uid: number | null;
  /** The user's name, or the uid as text when no name is known. */
  user: string | null;
  containerId: string | null;
  podUid: string | null;
  /** Why the owner is unknown; null when it is known. */
  note: string | null;
}

/** Where the facts come from: /proc and /etc/passwd, or sample files in tests. */
export interface ProcSource {
  /** The text of /proc/<pid>/<file>, or null when it cannot be read. */
  read(pid: number, file: "stat" | "status" | "cgroup"): string | null;
  /** /etc/passwd, or null. */
  passwd(): string | null;
  /** Unix seconds of the boot (/proc/stat btime), or null. */
  bootTime(): number | null;
  /** The agent's own /proc/self/status, or null (then its pid namespace is taken as the host's). */
  selfStatus?(): string | null;
}

export const NOT_IN_NAMESPACE = "not in the agent's pid namespace";
const GONE = "ended before it could be looked up";

/** Linux's USER_HZ, what /proc/<pid>/stat counts start times in (100 on every mainstream architecture). */
const CLOCK_TICKS_PER_SECOND = 100;

export function linuxProcSource(root = "/proc", passwdPath = "/etc/passwd"): ProcSource {
  const read = (path: string) => {
    try {
      return readFileSync(path, "utf8");
    } catch {
      return null;
    }
  };
  return {
    read: (pid, file) => read(`${root}/${pid}/${file}`),
    passwd: () => read(passwdPath),
    bootTime: () => parseBootTime(read(`${root}/stat`) ?? ""),
    selfStatus: () => read(`${root}/self/status`),
  };
}

/** This boot's id (start times restart at each boot, so a process identity names its boot); "" when unknown. */
export function readBootId(path = "/proc/sys/kernel/random/boot_id"): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return "";
  }
}

/**
 * Whether a /proc/<pid>/status is of a process in a child pid namespace: its NSpid
 * line lists its pid in each namespace from the outermost, so more than one entry.
 * NVML gives the pids of the outermost namespace; in a child one /proc/<pid> may be
 * another process that happens to hold the same number.
 */
export function inChildPidNamespace(status: string): boolean {
  const match = /^NSpid:\s*(.*)$/m.exec(status);
  return match !== null && match[1]!.trim().split(/\s+/).length > 1;
}

/** The start time (field 22) of /proc/<pid>/stat; the name (field 2) may hold spaces and parentheses. */
export function parseStartTicks(stat: string): number | null {
  const close = stat.lastIndexOf(")");
  if (close < 0) return null;
  const fields = stat.slice(close + 2).split(" ");
  // fields[0] is field 3 (state), so field 22 is fields[19].
  const value = Number(fields[19]);
  return Number.isSafeInteger(value) ? value : null;
}

/** The real uid from /proc/<pid>/status ("Uid:\treal\teffective\tsaved\tfs"). */
export function parseStatusUid(status: string): number | null {
  const match = /^Uid:\s+(\d+)/m.exec(status);
  return match ? Number(match[1]) : null;
}

export function parseBootTime(stat: string): number | null {
  const match = /^btime\s+(\d+)/m.exec(stat);
  return match ? Number(match[1]) : null;
}

/** uid -> name from /etc/passwd text. */
export function parsePasswd(text: string): Map<number, string> {
  const users = new Map<number, string>();
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const fields = line.split(":");
    if (fields.length < 3) continue;
    const uid = Number(fields[2]);
    if (fields[0] && Number.isSafeInteger(uid) && !users.has(uid)) users.set(uid, fields[0]);
  }
  return users;
}

const CONTAINER_ID = /^[0-9a-f]{64}$/;
// A systemd scope per runtime: docker-<id>.scope, cri-containerd-<id>.scope, crio-<id>.scope, libpod-<id>.scope (podman).
const SCOPE = /^(?:docker|cri-containerd|crio|libpod|containerd)-([0-9a-f]{64})\.scope$/;
// kubepods: pod<uid> (cgroupfs driver, dashes) or kubepods-<qos>-pod<uid>.slice (systemd driver, underscores).
const POD = /^(?:kubepods(?:-[a-z]+)?-)?pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?$/;

/**
 * The container id and pod UID a /proc/<pid>/cgroup names, from any of its lines
 * (cgroup v1 has one per hierarchy, v2 one "0::" line): Docker (/docker/<id>,
 * docker-<id>.scope), containerd, CRI-O (crio-<id>.scope; its conmon scope is not
 * the container), podman, and kubepods paths of both cgroup drivers.
 */
export function parseCgroup(text: string): { containerId: string | null; podUid: string | null } {
  let containerId: string | null = null;
  let podUid: string | null = null;
  for (const line of text.split("\n")) {
    const path = line.slice(line.indexOf(":", line.indexOf(":") + 1) + 1);
    if (!path.startsWith("/") || path === "/") continue;
    for (const part of path.split("/")) {
      const pod = POD.exec(part);
      if (pod) podUid ??= pod[1]!.replaceAll("_", "-");
      const scope = SCOPE.exec(part);
      if (scope) containerId ??= scope[1]!;
      else if (CONTAINER_ID.test(part)) containerId ??= part;
    }
    if (containerId && podUid) break;
  }
  return { containerId, podUid };
}

/**
 * Owners by pid, looked up when a pid appears: its stat (the start time, which tells
 * a reused pid from its predecessor), status and cgroup files. A pid listed at
 * every tick since is the same process (as ProcessNameCache takes it): the kernel
 * hands a pid out again only after cycling through pid_max, and a pid that leaves
 * the GPU's list for one tick is looked up afresh. Reading /proc/<pid>/stat for
 * every process at every tick instead cost 10 µs a process (4 ms a tick for 400),
 * 16x the whole basic sample. User names are cached by uid.
 */
export class ProcessOwners {
  private readonly byPid = new Map<number, ProcessOwner>();
  private users: Map<number, string> | null = null;
  private bootTime: number | null | undefined;
  /** The agent runs in a child pid namespace: no NVML pid can be looked up in its /proc. */
  private childNamespace: boolean | undefined;

  constructor(private readonly source: ProcSource = linuxProcSource()) {}

  owner(pid: number): ProcessOwner {
    const known = this.byPid.get(pid);
    if (known) return known;
    this.childNamespace ??= inChildPidNamespace(this.source.selfStatus?.() ?? "");
    if (this.childNamespace) {
      const owner = unknownOwner(NOT_IN_NAMESPACE);
      this.byPid.set(pid, owner);
      return owner;
    }
    const stat = this.source.read(pid, "stat");
    const startTicks = stat === null ? null : parseStartTicks(stat);
    const owner = startTicks === null ? unknownOwner(NOT_IN_NAMESPACE) : this.lookUp(pid, startTicks);
    this.byPid.set(pid, owner);
    return owner;
  }

  /** Forgets pids not seen in the latest reading. */
  retainOnly(pids: ReadonlySet<number>): void {
    for (const pid of this.byPid.keys()) if (!pids.has(pid)) this.byPid.delete(pid);
  }

  private lookUp(pid: number, startTicks: number): ProcessOwner {
    const status = this.source.read(pid, "status");
    const cgroup = this.source.read(pid, "cgroup");
    if (status === null) return { ...unknownOwner(GONE), startTicks };
    const uid = parseStatusUid(status);
    this.bootTime ??= this.source.bootTime();
    return {
      startTicks,
      startedAt: this.bootTime === null ? null : this.bootTime + Math.floor(startTicks / CLOCK_TICKS_PER_SECOND),
      uid,
      user: uid === null ? null : this.userName(uid),
      ...(cgroup === null ? { containerId: null, podUid: null } : parseCgroup(cgroup)),
      note: null,
    };
  }

  private userName(uid: number): string {
    let name = this.users?.get(uid);
    if (name === undefined) {
      // A user added since the last look: read the file again (once per unknown uid).
      this.users = parsePasswd(this.source.passwd() ?? "");
      name = this.users.get(uid);
      if (name === undefined) this.users.set(uid, (name = String(uid)));
    }
    return name;
  }
}

function unknownOwner(note: string): ProcessOwner {
  return { startTicks: null, startedAt: null, uid: null, user: null, containerId: null, podUid: null, note };
}
