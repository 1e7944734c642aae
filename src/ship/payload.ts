// The upload body of one window (DESIGN section 5) and its idempotency key. Pure.

import { createHash } from "node:crypto";
import type { ShownValue } from "../metrics/catalog.ts";
import { attributionEntries, windowEntries, type GpuIdentity, type WindowSummary } from "../metrics/records.ts";
import type { WindowAttribution } from "../store/processes.ts";
import { formatUtc } from "../util/time.ts";

export interface HostIdentity {
  hostname: string;
  /** Stable across restarts: /etc/machine-id, or an id kept in the database. */
  machineId: string;
  agentVersion: string;
  driverVersion: string | null;
}

export interface UploadBody {
  contract_number: string | null;
  aggregation_time: string;
  period_seconds: number;
  host: { hostname: string; machine_id: string; agent_version: string; driver_version: string | null };
  gpus: UploadGpu[];
}

/** One GPU's record in the body: the catalog's uploaded metrics, summarised over the window. */
export type UploadGpu = Record<string, ShownValue>;

/** With `attribution` (server.send_processes), the GPU's processes and users follow its metrics. */
export function uploadGpu(identity: GpuIdentity, summary: WindowSummary & { gpuId?: number }, attribution: WindowAttribution | null = null): UploadGpu {
  const entries = windowEntries(identity, summary, (metric) => metric.upload);
  if (attribution && summary.gpuId !== undefined) {
    const id = summary.gpuId;
    entries.push(...attributionEntries(attribution.lists.get(id), attribution.processes.get(id) ?? [], attribution.users.get(id) ?? []));
  }
  return Object.fromEntries(entries);
}

export function uploadBody(
  windowStart: number,
  periodSeconds: number,
  contractNumber: string | undefined,
  host: HostIdentity,
  gpus: UploadGpu[],
): UploadBody {
  return {
    contract_number: contractNumber ?? null,
    aggregation_time: formatUtc(windowStart),
    period_seconds: periodSeconds,
    host: {
      hostname: host.hostname,
      machine_id: host.machineId,
      agent_version: host.agentVersion,
      driver_version: host.driverVersion,
    },
    gpus,
  };
}

/** The same for every attempt at one window from one host, so the server can drop a repeat. */
export function idempotencyKey(machineId: string, windowStart: number): string {
  return createHash("sha256").update(`gpu_monitor:${machineId}:${windowStart}`).digest("hex").slice(0, 32);
}
