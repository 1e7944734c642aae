// What a whole process costs while it runs: CPU time of every thread, and memory
// as RSS, PSS and what it owns alone (private). Shared by the agent benchmark and the
// floor comparison, which measure several processes side by side over the same seconds.

import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const CLOCK_TICKS = 100; // USER_HZ on Linux

export interface MemoryKb {
  rss: number;
  pss: number;
  /** Private_Clean + Private_Dirty + Swap: what would be freed if the process ended. */
  private: number;
  /**
   * The part of private that is clean pages of files only this process maps: the 100 MB
   * executable's code, mostly. Owned, but the kernel drops them at will under pressure;
   * private - privateClean (dirty and swapped pages, the heaps) it cannot.
   */
  privateClean: number;
}

/** /proc/<pid>/smaps_rollup, in kB. */
export function memoryOf(pid: number): MemoryKb {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(rollup)?.[1] ?? 0);
  return {
    rss: kb("Rss"),
    pss: kb("Pss"),
    private: kb("Private_Clean") + kb("Private_Dirty") + kb("Swap"),
    privateClean: kb("Private_Clean"),
  };
}

/** utime + stime of every thread, living or ended, in s: exact to the 10 ms clock tick only. */
function statCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

export interface CpuMeter {
  /** CPU seconds used so far, every thread included. */
  read(): number;
  method: string;
  close(): void;
}

/**
 * A process's CPU time, every thread included (those that started and ended between two
 * readings too): a cgroup v1 cpuacct group of its own where one can be made (root on
 * Linux; nanoseconds), else /proc/<pid>/stat, whose 10 ms ticks are coarse against a
 * few milliseconds a minute. Call it right after the spawn: children join the group.
 */
export function cpuMeter(pid: number, name = "gpu-monitor-bench"): CpuMeter {
  const group = `/sys/fs/cgroup/cpuacct/${name}-${pid}`;
  try {
    mkdirSync(group);
    writeFileSync(join(group, "cgroup.procs"), String(pid)); // the whole thread group moves
    return {
      method: "cpuacct cgroup",
      read: () => Number(readFileSync(join(group, "cpuacct.usage"), "utf8")) / 1e9,
      close: () => {
        try {
          rmdirSync(group);
        } catch {
          // still has the exiting process in it for a moment; an empty group costs nothing
        }
      },
    };
  } catch {
    return { method: "/proc/<pid>/stat", read: () => statCpuSeconds(pid), close: () => {} };
  }
}

export interface Watched {
  label: string;
  pid: number;
}

export interface ProcessFigures {
  label: string;
  cpuMethod: string;
  cpuSeconds: number;
  /** Each tick's CPU in ms (the half interval either side of it), at intervals of 10 s and more; whole ticks only. */
  tickCpuMs: number[];
  /** Readings every memorySeconds, from the end of the warm-up to the end, in kB. */
  memory: MemoryKb[];
}

export interface SideBySide {
  intervalSeconds: number;
  seconds: number;
  warmupSeconds: number;
  /** Whether the window held an hour boundary (at 60 s, the agent's hourly compaction and window close). */
  hourBoundaryInside: boolean;
  processes: ProcessFigures[];
}

/**
 * Measures processes side by side over the same wall-clock seconds, after a warm-up:
 * CPU read every second and put to the tick it belongs to (ticks fall on wall-clock
 * multiples of the interval), memory every `memorySeconds`.
 */
export async function measureSideBySide(
  watched: readonly Watched[],
  options: { intervalSeconds: number; seconds: number; warmupSeconds: number; memorySeconds?: number; meters?: CpuMeter[] },
): Promise<SideBySide> {
  const meters = options.meters ?? watched.map((w) => cpuMeter(w.pid));
  const memorySeconds = options.memorySeconds ?? 10;
  await Bun.sleep(options.warmupSeconds * 1000);
  const startedAt = Date.now();
  const first = meters.map((m) => m.read());
  const last = [...first];
  const perTick = watched.map(() => new Map<number, number>());
  const memory: MemoryKb[][] = watched.map((w) => [memoryOf(w.pid)]);
  const until = startedAt + options.seconds * 1000;
  for (let second = 1; Date.now() < until; second++) {
    await Bun.sleep(Math.min(1000, Math.max(0, until - Date.now())));
    const tick = Math.round(Date.now() / 1000 / options.intervalSeconds);
    meters.forEach((meter, i) => {
      const now = meter.read();
      perTick[i]!.set(tick, (perTick[i]!.get(tick) ?? 0) + (now - last[i]!));
      last[i] = now;
    });
    if (second % memorySeconds === 0) watched.forEach((w, i) => memory[i]!.push(memoryOf(w.pid)));
  }
  watched.forEach((w, i) => memory[i]!.push(memoryOf(w.pid)));
  const seconds = (Date.now() - startedAt) / 1000;
  return {
    intervalSeconds: options.intervalSeconds,
    seconds,
    warmupSeconds: options.warmupSeconds,
    hourBoundaryInside: Math.floor(startedAt / 3_600_000) !== Math.floor(Date.now() / 3_600_000),
    processes: watched.map((w, i) => ({
      label: w.label,
      cpuMethod: meters[i]!.method,
      cpuSeconds: last[i]! - first[i]!,
      // The first and last buckets hold part of a tick.
      tickCpuMs: options.intervalSeconds >= 10 ? [...perTick[i]!.values()].slice(1, -1).map((s) => s * 1000) : [],
      memory: memory[i]!,
    })),
  };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length === 0 ? NaN : sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export const mb = (kb: number) => (kb / 1024).toFixed(1);
