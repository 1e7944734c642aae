// The sampling Worker: NVML lives on this thread, so an NVML call that never
// returns blocks only this thread; the agent's loop, aggregation, shipping and
// the query side go on, and the tick is skipped.

import { openNvml } from "../nvml/index.ts";
import { NvmlSession, type SessionResult } from "./session.ts";

export type WorkerRequest =
  | { type: "sample"; id: number; atMs: number; intervalMs: number; libraryPath: string | undefined; lookUpOwners: boolean }
  | { type: "close" };
export type WorkerReply = { type: "result"; id: number; result: SessionResult } | { type: "failed"; id: number; message: string } | { type: "closed" };

declare const self: Worker;

let session: NvmlSession | null = null;
/** Reads the driver's buffers between ticks, as often as the session says they need. */
let poller: ReturnType<typeof setInterval> | null = null;
let pollerMs: number | null = null;

function keepPolling(): void {
  const wanted = session?.pollPeriodMs() ?? null;
  if (wanted === pollerMs) return;
  if (poller) clearInterval(poller);
  poller = wanted === null ? null : setInterval(() => session?.poll(), wanted);
  pollerMs = wanted;
}

self.onmessage = (event: MessageEvent<WorkerRequest>) => {
  const request = event.data;
  if (request.type === "close") {
    if (poller) clearInterval(poller);
    poller = null;
    session?.close();
    self.postMessage({ type: "closed" } satisfies WorkerReply);
    return;
  }
  session ??= new NvmlSession(() => openNvml({ libraryPath: request.libraryPath }), Date.now, request.lookUpOwners);
  try {
    self.postMessage({ type: "result", id: request.id, result: session.sample(request.atMs, request.intervalMs) } satisfies WorkerReply);
    keepPolling();
  } catch (error) {
    self.postMessage({ type: "failed", id: request.id, message: (error as Error).message } satisfies WorkerReply);
  }
};
