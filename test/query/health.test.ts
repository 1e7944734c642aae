import { describe, expect, test } from "bun:test";
import { gpusInTrouble } from "../../src/query/health.ts";
import type { StoredEvent } from "../../src/store/events.ts";

function event(ts: number, kind: string, gpu: number | null): StoredEvent {
  return { ts, kind, gpu_index: gpu, detail: `${kind} ${gpu}`, gpu_uuid: null, code: null };
}

describe("GPUs in trouble now", () => {
  test("an unreadable, failed or lost GPU without a recovery after it; newest first in, by index out", () => {
    const events = [event(9, "xid", 0), event(8, "gpu_unreadable", 2), event(7, "gpu_recovered", 0), event(6, "gpu_lost", 0), event(5, "gpu_failed", 1), event(4, "nvml_ready", null)];
    expect(gpusInTrouble(events).map((e) => [e.gpu_index, e.kind])).toEqual([
      [1, "gpu_failed"],
      [2, "gpu_unreadable"],
    ]);
  });

  test("trouble from before the newest NVML session is not current: the session says it again if it still is", () => {
    expect(gpusInTrouble([event(9, "nvml_ready", null), event(5, "gpu_unreadable", 0)])).toEqual([]);
  });
});
