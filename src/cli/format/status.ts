// `status` as text: one line per fact, every string from outside escaped.

import { formatSize } from "../../query/databaseSize.ts";
import { escapeControl } from "../../util/text.ts";

export interface GpuModel {
  name: string;
  count: number;
}

/** Each model once with how many GPUs are that model, in order of first appearance. */
export function gpuModels(names: readonly string[]): GpuModel[] {
  const counts = new Map<string, number>();
  for (const name of names) counts.set(name, (counts.get(name) ?? 0) + 1);
  return [...counts].map(([name, count]) => ({ name, count }));
}

/** "8 × NVIDIA H100 80GB HBM3", "2 × NVIDIA A100-SXM4-40GB, Tesla T4": a model alone is named alone. */
export function gpuModelsLine(models: readonly GpuModel[]): string {
  return models.map((model) => (model.count === 1 ? model.name : `${model.count} × ${model.name}`)).join(", ");
}

/** The report as text; strings in it (a server's uid or error, a GPU name) are shown escaped, never obeyed. */
export function statusText(unsafeReport: Record<string, unknown>): string {
  const report = escapeStrings(unsafeReport);
  const lines = [
    `Agent:        ${report.agent.running ? `running (pid ${report.agent.pid})` : "not running"}`,
    `Database:     ${report.database.file}${report.database.bytes === null ? " (none yet)" : ` (${formatSize(report.database.bytes)})`}`,
    `Last sample:  ${report.last_sample ?? "none"}`,
    `GPUs seen:    ${report.gpus ? gpusLine(report.gpus, report.gpu_models) : "none"}`,
    ...(report.gpus?.length ? [`Utilization:  ${utilizationLine(report.gpus.filter((gpu: any) => !gpu.parent_uid))}`] : []),
    `Windows:      ${report.windows ? `${report.windows.pending} pending, ${report.windows.failed} failed, ${report.windows.sent} sent` : "none"}`,
    `Last send:    ${report.last_send ? `${report.last_send.window} ${report.last_send.outcome}${report.last_send.uid ? ` (uid ${report.last_send.uid})` : ""}${report.last_send.error ? `: ${report.last_send.error}` : ""} at ${report.last_send.at}` : "none"}`,
    `Server:       ${report.server ?? "none (offline)"}`,
    ...(report.events_last_24h?.length
      ? [
          "Events (last 24 h):",
          ...report.events_last_24h.map((e: any) => `  ${e.at}  ${e.kind}${e.gpu_index === null ? "" : ` (GPU ${e.gpu_index})`}: ${e.detail}`),
          ...(report.events_not_shown ? [`  … and more: the database keeps them all`] : []),
        ]
      : report.recent_events?.length
        ? ["Events:", ...report.recent_events.map((e: any) => `  ${e.at}  ${e.kind}${e.gpu_index === null ? "" : ` (GPU ${e.gpu_index})`}: ${e.detail}`)]
        : []),
    `Health:       ${report.healthy ? "ok" : report.problems.join("; ")}`,
  ];
  return lines.join("\n") + "\n";
}

/** "2 (NVIDIA H100 80GB HBM3, …)", and the MIG devices apart: they are parts of those GPUs. */
function gpusLine(gpus: ReadonlyArray<{ parent_uid?: string | null }>, models: readonly GpuModel[]): string {
  const migDevices = gpus.filter((gpu) => gpu.parent_uid).length;
  const count = gpus.length - migDevices;
  return `${count}${count ? ` (${gpuModelsLine(models)})` : ""}${migDevices ? `, and ${migDevices} MIG device(s) of them` : ""}`;
}

/** "averaged from driver samples on 2 of 3 GPUs; point readings: GPU-…". */
function utilizationLine(gpus: ReadonlyArray<{ uid: string; utilization_source: string | null }>): string {
  const averaged = gpus.filter((gpu) => gpu.utilization_source === "samples").length;
  const point = gpus.filter((gpu) => gpu.utilization_source === "point").map((gpu) => gpu.uid);
  const parts = [`averaged from driver samples on ${averaged} of ${gpus.length} GPU(s)`];
  if (point.length) parts.push(`point readings: ${point.join(", ")}`);
  return parts.join("; ");
}

function escapeStrings(value: unknown): any {
  if (typeof value === "string") return escapeControl(value);
  if (Array.isArray(value)) return value.map(escapeStrings);
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, escapeStrings(item)]));
  return value;
}
