// What one tick adds to the windows' record of who used each GPU: every process
// present, once per GPU, with the tick's interval as its time there. Pure but for
// the memory of the last tick (which pids of unknown start were already present).
// In "hashed" mode names, users, container and pod ids are replaced here, before
// anything is stored.

import { createHash } from "node:crypto";
import type { GpuSample } from "../collect/sample.ts";
import type { ProcessMode } from "../config/schema.ts";

/** Who a process is, as stored once per process and read back with each of its windows. */
export interface ProcessIdentity {
  pid: number;
  startedAt: number | null;
  name: string | null;
  uid: number | null;
  user: string | null;
  containerId: string | null;
  podUid: string | null;
  note: string | null;
}

/** One process on one GPU at one tick, as stored. */
export interface TickProcess extends ProcessIdentity {
  /** Start time in clock ticks after boot; for a process whose start is unknown, minus the time of the tick it was first seen. */
  startKey: number;
  /** The boot the process runs in (start keys restart at each boot); "" where unknown. */
  bootId: string;
  /** Stored under "hashed": never the same identity as the plain row of the same process. */
  hashed: boolean;
  memoryBytes: number | null;
  /** SM time share over the tick, 0 to 1; null when the GPU cannot tell. */
  smShare: number | null;
}

/** One GPU's processes at one tick. */
export interface TickProcesses {
  /** The time each process present gets: the sampling interval. */
  seconds: number;
  /** null: no list this tick (NVML refused it, or has none). */
  processes: TickProcess[] | null;
  /** NVML's code when it refused the list. */
  refusedCode: string | null;
}

/** Salted SHA-256, hex, first 16 characters: the same value always hashes the same in one database. */
export function saltedHash(salt: string): (value: string) => string {
  return (value) => createHash("sha256").update(salt).update("\0").update(value).digest("hex").slice(0, 16);
}

export class ProcessAttribution {
  /** pid -> start key of the processes of unknown start present at the last tick. */
  private unknownStarts = new Map<number, number>();
  private readonly protect: (value: string | null) => string | null;

  constructor(
    private readonly mode: Exclude<ProcessMode, "off">,
    hash: (value: string) => string,
    private readonly bootId = "",
  ) {
    this.protect = mode === "hashed" ? (value) => (value === null ? null : hash(value)) : (value) => value;
  }

  /** Each GPU's processes at the tick `ts`, in the order of `gpus`. */
  tick(ts: number, intervalSeconds: number, gpus: readonly GpuSample[]): TickProcesses[] {
    const unknownNow = new Map<number, number>();
    const result = gpus.map((gpu): TickProcesses => {
      // A GPU in MIG mode lists all its MIG devices' processes (nvml.h): they count on the devices only, once.
      if (gpu.migMode === true && gpu.parentUuid === null) return { seconds: intervalSeconds, processes: [], refusedCode: null };
      if (gpu.processes === null) {
        const refusedCode = gpu.fieldErrors.compute_processes ?? gpu.fieldErrors.graphics_processes ?? gpu.fieldErrors.mps_processes ?? null;
        return { seconds: intervalSeconds, processes: null, refusedCode };
      }
      // A process in both the compute and graphics lists is one process on this GPU.
      const byPid = new Map<number, TickProcess>();
      for (const process of gpu.processes) {
        const known = byPid.get(process.pid);
        if (known) {
          if (process.usedMemoryBytes !== null) known.memoryBytes = Math.max(known.memoryBytes ?? 0, process.usedMemoryBytes);
          continue;
        }
        const owner = process.owner;
        let startKey: number;
        if (owner?.startTicks != null) startKey = owner.startTicks;
        else {
          // Unknown start: the same process while it stays present from tick to tick, a new one after a gap.
          startKey = unknownNow.get(process.pid) ?? this.unknownStarts.get(process.pid) ?? -ts;
          unknownNow.set(process.pid, startKey);
        }
        byPid.set(process.pid, {
          pid: process.pid,
          startKey,
          startedAt: owner?.startedAt ?? null,
          name: this.protect(process.name),
          uid: this.mode === "hashed" ? null : (owner?.uid ?? null),
          user: this.protect(owner?.user ?? null),
          containerId: this.protect(owner?.containerId ?? null),
          podUid: this.protect(owner?.podUid ?? null),
          note: owner?.note ?? null,
          bootId: this.bootId,
          hashed: this.mode === "hashed",
          memoryBytes: process.usedMemoryBytes,
          smShare: process.smPercent === null ? null : process.smPercent / 100,
        });
      }
      return { seconds: intervalSeconds, processes: [...byPid.values()], refusedCode: null };
    });
    this.unknownStarts = unknownNow;
    return result;
  }
}
