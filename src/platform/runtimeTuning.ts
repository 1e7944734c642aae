// The agent runs for months doing a few milliseconds of work a minute. Bun's
// defaults suit the opposite: an idle-GC timer that wakes every second, the
// optimising JIT tiers, whose compilers and compiled code stay resident, and helper
// threads (compilers, a heap-block pre-faulter, the allocator's page purger) that
// wake around every tick. All are switched off by environment variables the engine
// reads only at start, so the agent, once, replaces itself (execve: same pid, same open
// descriptors) with a copy of itself that has them set. What each costs and saves
// is measured in test/bench/agent.ts and the README's Performance section. Linux
// and macOS; elsewhere (Windows: the service definition sets them) nothing happens.

import { ptr } from "bun:ffi";
import { libc } from "./libc.ts";

/** Set by the agent on the copy it starts, so it never starts another. */
const MARKER = "GPU_MONITOR_RUNTIME_TUNED";

/** The settings, unless the environment already has a value for one (an operator's choice wins). */
export const AGENT_RUNTIME_ENV: Readonly<Record<string, string>> = {
  // Bun's extra idle-GC timer; the engine's own allocation-driven collector still runs.
  BUN_GC_TIMER_DISABLE: "1",
  // Keep the interpreter and the baseline JIT; drop the optimising DFG and FTL tiers.
  BUN_JSC_useDFGJIT: "0",
  BUN_JSC_useFTLJIT: "0",
  // Compile on the thread that needs the code: no compiler threads started and stopped every tick.
  BUN_JSC_useConcurrentJIT: "0",
  // No helper thread pre-faulting heap blocks for a burst of allocation that never comes, every tick.
  BUN_JSC_useWarmUpMarkedBlocks: "0",
  // mimalloc's scavenger thread woke after every tick to hand the pages the tick freed back to the
  // kernel, and the next tick faulted them in again (about 1 ms a tick at 60 s). A tick allocates the
  // same every time: keep them for the next one. This also means the scavenger thread is never started.
  MIMALLOC_PURGE_DELAY: "-1",
};

/** The environment the tuned copy gets: ours plus the settings the operator left unset, plus the marker. */
export function tunedEnvironment(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const tuned: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) tuned[key] = value;
  for (const [key, value] of Object.entries(AGENT_RUNTIME_ENV)) tuned[key] ??= value;
  tuned[MARKER] = "1";
  return tuned;
}

/**
 * The command line that starts this compiled binary again, or null when this is
 * not one (`bun src/main.ts`): a restart could not carry bun's own flags, such as
 * --cpu-prof, and a developer's run needs no tuning.
 */
export function selfCommand(execPath: string, argv: readonly string[]): string[] | null {
  const [, script, ...args] = argv;
  return script?.startsWith("/$bunfs/") ? [execPath, ...args] : null;
}

/** GPU_MONITOR_RUNTIME_TUNING=0 turns off the restart with these settings and the release of start-up code pages (memoryTrim.ts). */
export function runtimeTuningEnabled(): boolean {
  return process.env.GPU_MONITOR_RUNTIME_TUNING !== "0";
}

/**
 * Replaces the process with a tuned copy of itself, unless it is one already or
 * tuning is off (GPU_MONITOR_RUNTIME_TUNING=0). Returns only when it did not
 * replace it: the reason, for the log, or null when no replacement was wanted.
 */
export function execTunedRuntime(): string | null {
  if (process.env[MARKER] === "1" || !runtimeTuningEnabled()) return null;
  // Linux and macOS have execve; Windows gets the settings from its service definition.
  if (process.platform !== "linux" && process.platform !== "darwin") return null;
  const c = libc();
  if (!c) return "libc not loaded";
  const command = selfCommand(process.execPath, process.argv);
  if (!command) return null;
  const env = Object.entries(tunedEnvironment(process.env)).map(([key, value]) => `${key}=${value}`);
  // C strings and the NULL-terminated pointer arrays execve wants; kept referenced until the call.
  const strings = [...command, ...env].map((text) => Buffer.from(`${text}\0`, "utf8"));
  const pointers = (list: Buffer[]) => {
    const array = new BigUint64Array(list.length + 1);
    list.forEach((buffer, i) => (array[i] = BigInt(ptr(buffer))));
    return array;
  };
  const argvArray = pointers(strings.slice(0, command.length));
  const envArray = pointers(strings.slice(command.length));
  c.execve(ptr(strings[0]!), ptr(argvArray), ptr(envArray));
  return "execve failed: running with Bun's default GC timer and JIT tiers";
}
