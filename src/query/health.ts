// What status says about the GPUs' health, from stored events and the latest
// samples. Pure.

import { sampleColumnIndex, utilizationSource } from "../metrics/catalog.ts";
import type { SampleColumns } from "../store/columns.ts";
import type { StoredEvent } from "../store/events.ts";

/** Events that start or end a GPU's trouble. */
const GPU_TROUBLE = new Set(["gpu_unreadable", "gpu_failed", "gpu_lost"]);
const GPU_BACK = "gpu_recovered";
/** A new NVML session: what was wrong before is said again if it still is. */
const SESSION_START = "nvml_ready";

/**
 * GPUs unreadable right now: those whose latest trouble event since the agent's
 * newest NVML session has no recovery after it. `events` newest first.
 */
export function gpusInTrouble(events: readonly StoredEvent[]): StoredEvent[] {
  const settled = new Set<number>();
  const trouble: StoredEvent[] = [];
  for (const event of events) {
    if (event.kind === SESSION_START) break;
    if (event.gpu_index === null || settled.has(event.gpu_index)) continue;
    if (event.kind === GPU_BACK) settled.add(event.gpu_index);
    else if (GPU_TROUBLE.has(event.kind)) {
      settled.add(event.gpu_index);
      trouble.push(event);
    }
  }
  return trouble.sort((a, b) => a.gpu_index! - b.gpu_index!);
}

const UTILIZATION_SAMPLES = sampleColumnIndex("utilization_samples");

/** How each GPU's latest stored utilization was obtained ("samples", "point" or null), by GPU id. */
export function utilizationSources(latest: readonly SampleColumns[]): Map<number, "samples" | "point" | null> {
  const sources = new Map<number, "samples" | "point" | null>();
  for (const columns of latest) {
    const values = columns.values[UTILIZATION_SAMPLES]!;
    sources.set(columns.gpuId, utilizationSource(values.at(-1) ?? null));
  }
  return sources;
}
