// The agent's executable is ~100 MB of code; starting it touches some 43 MB of
// those pages (the parser, the module loader, config validation, the first tick
// compiling its code), and every touched page stays counted in the agent's RSS for
// as long as it runs, though a tick then uses about 19 MB of them. Once started,
// and then hourly, the agent tells the kernel it no longer needs the clean pages
// of its own executable (madvise MADV_DONTNEED): they stay in the page cache, the
// ones a tick uses come back on its next run as minor faults, and the rest stop
// counting. Only the executable's read-only mappings with no private page in them
// (none copied, none swapped out) are released, so nothing that differs from the
// file is ever dropped; the executable is mapped once at start and never again, so
// no library being loaded by another thread meanwhile can be caught. Linux only.

import { readFileSync, readlinkSync } from "node:fs";
import { libc } from "./libc.ts";

const MADV_DONTNEED = 4;

export interface MappedRange {
  start: number;
  end: number;
  path: string;
}

/**
 * From /proc/self/smaps: the mappings of `executable` that can be dropped and read
 * back from it unchanged. Read-only (never written, so never copied), private, no
 * page of their own (Anonymous and Swap both 0: a page copied on write, a relocated
 * one, is anonymous while resident and in swap once swapped out), and resident at
 * all. Private_Dirty is no test: it also counts page-cache pages of a file written
 * moments ago (a binary just installed), which are the file's content all the same.
 */
export function releasableRanges(smaps: string, executable: string): MappedRange[] {
  const ranges: MappedRange[] = [];
  type Candidate = MappedRange & { ok: boolean; fields: Map<string, number> };
  let current: Candidate | null = null;
  const finish = () => {
    if (!current?.ok) return;
    const { fields } = current;
    // A field missing from the kernel's list means we cannot tell: never released then.
    const none = (field: string) => fields.get(field) === 0;
    if ((fields.get("Rss") ?? 0) > 0 && none("Anonymous") && none("Swap")) {
      ranges.push({ start: current.start, end: current.end, path: current.path });
    }
  };
  for (const line of smaps.split("\n")) {
    const header = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header) {
      finish();
      const [, start, end, perms, path] = header as unknown as [string, string, string, string, string];
      current = {
        start: Number.parseInt(start, 16),
        end: Number.parseInt(end, 16),
        path,
        ok: path === executable && perms[1] === "-" && perms[3] === "p",
        fields: new Map(),
      };
      continue;
    }
    const field = /^(\w+):\s+(\d+) kB/.exec(line);
    if (field && current) current.fields.set(field[1]!, Number(field[2]));
  }
  finish();
  return ranges;
}

/** Resident memory now, in kB, from /proc/self/status. */
function residentKb(): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? 0);
}

export interface Release {
  ranges: number;
  rssBeforeKb: number;
  rssAfterKb: number;
}

/**
 * Releases the executable's clean pages; what it did, or why it could not. Throws
 * where /proc cannot be read (a kernel without smaps, a restricted /proc):
 * CodePageRelease reports that as it reports the reasons returned here.
 */
export function releaseCodePages(): Release | string {
  if (process.platform !== "linux") return `not on ${process.platform}`;
  const c = libc();
  if (!c) return "libc not loaded";
  const rssBeforeKb = residentKb();
  const ranges = releasableRanges(readFileSync("/proc/self/smaps", "utf8"), readlinkSync("/proc/self/exe"));
  let released = 0;
  for (const range of ranges) if (c.madvise(range.start, range.end - range.start, MADV_DONTNEED) === 0) released++;
  return { ranges: released, rssBeforeKb, rssAfterKb: residentKb() };
}

/** When to release: after the second tick (start-up is over, the tick's code compiled), then hourly (after that hour's rarer work). */
export class CodePageRelease {
  private ticks = 0;
  private lastAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly release: () => Release | string,
    private readonly log: (message: string) => void,
    private readonly afterTicks = 2,
    private readonly everySeconds = 3600,
  ) {}

  /** Called after each tick's work; `nowSeconds` is the tick's time. */
  afterTick(nowSeconds: number): void {
    this.ticks++;
    if (this.ticks < this.afterTicks || nowSeconds - this.lastAt < this.everySeconds) return;
    this.lastAt = nowSeconds;
    let result: Release | string;
    try {
      result = this.release();
    } catch (error) {
      result = (error as Error).message; // /proc unreadable: a reason like any other, never out of the tick
    }
    if (typeof result === "string") {
      this.log(`code pages not released: ${result}`);
      this.lastAt = Number.POSITIVE_INFINITY; // it will not work later either
      return;
    }
    const mb = (kb: number) => (kb / 1024).toFixed(1);
    this.log(`released the clean code pages of ${result.ranges} mapping(s) of the executable: RSS ${mb(result.rssBeforeKb)} -> ${mb(result.rssAfterKb)} MB`);
  }
}
