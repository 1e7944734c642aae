// Names for the pids NVML reports. The OS knows best (/proc/<pid>/comm on Linux);
// NVML's own lookup is the fallback. Names are cached per pid while the pid keeps
// showing up, so a long-running process costs one lookup, not one per sample.

import { readFileSync } from "node:fs";

export type OsProcessName = (pid: number) => string | null;

export function linuxProcessName(pid: number): string | null {
  try {
    const name = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
    return name.length > 0 ? name : null;
  } catch {
    return null; // gone, in another pid namespace, or not ours to read
  }
}

export function osProcessNameLookup(platform: NodeJS.Platform = process.platform): OsProcessName {
  return platform === "linux" ? linuxProcessName : () => null;
}

export class ProcessNameCache {
  private names = new Map<number, string | null>();

  constructor(
    private readonly fromOs: OsProcessName,
    private readonly fromNvml: (pid: number) => string | null,
  ) {}

  name(pid: number): string | null {
    if (this.names.has(pid)) return this.names.get(pid)!;
    const name = this.fromOs(pid) ?? this.fromNvml(pid);
    this.names.set(pid, name);
    return name;
  }

  /** Forgets pids not seen in the latest sample, so a reused pid is looked up afresh. */
  retainOnly(pids: ReadonlySet<number>): void {
    for (const pid of this.names.keys()) if (!pids.has(pid)) this.names.delete(pid);
  }
}
