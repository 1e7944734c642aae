import { defineCommand } from "citty";
import { existsSync, statSync } from "node:fs";
import { gpusInTrouble, utilizationSources } from "../../query/health.ts";
import { escapeControl } from "../../util/text.ts";
import { formatTime } from "../../util/time.ts";
import { redactUrlCredentials } from "../../util/url.ts";
import { runningAgentPid } from "../../store/lock.ts";
import type { StoredEvent } from "../../store/events.ts";
import { Store } from "../../store/store.ts";
import { EXIT, UsageError } from "../errors.ts";
import { commandConfig, configArg } from "../shared.ts";

export default defineCommand({
  meta: { name: "status", description: "The agent at a glance; exits 1 when the last send failed, samples stopped or a GPU is unreadable" },
  args: {
    format: { type: "string", alias: "f", description: "text or json", valueHint: "text|json", default: "text" },
    ...configArg,
  },
  run({ args }) {
    if (args.format !== "text" && args.format !== "json") throw new UsageError(`--format must be text or json, not '${args.format}'`);
    const { config } = commandConfig(args);
    const file = config.database.file;
    const now = Date.now() / 1000;
    const agentPid = runningAgentPid(file);
    const report: Record<string, unknown> = {
      agent: agentPid === null ? { running: false } : { running: true, pid: agentPid },
      database: { file, bytes: existsSync(file) ? sizeOnDisk(file) : null },
      server: config.server.url ? redactUrlCredentials(config.server.url) : null,
    };
    const problems: string[] = [];
    if (!existsSync(file)) {
      problems.push("no database yet: the agent has not stored a sample");
    } else {
      const store = Store.open(file, { readonly: true });
      try {
        const { ledger } = store;
        const last = store.samples.latestTs();
        const gpus = [...store.gpus.all().values()];
        const attempt = ledger.lastAttempt();
        report.last_sample = last === null ? null : formatTime(last);
        const sources = last === null ? new Map() : utilizationSources(store.samples.series(last, last + 1));
        report.gpus = gpus.map((gpu) => ({
          uid: gpu.identity.uid,
          name: gpu.identity.name,
          last_seen: formatTime(gpu.lastSeen),
          // "samples": the driver's samples averaged over each interval; "point": the instant of each tick
          utilization_source: sources.get(gpu.id) ?? null,
        }));
        report.windows = ledger.counts();
        const shown = (event: StoredEvent) => ({ at: formatTime(event.ts), kind: event.kind, gpu_index: event.gpu_index, detail: event.detail });
        report.recent_events = store.events.recent(5).map(shown);
        const lastDay = store.events.recent(MAX_EVENTS + 1, Math.floor(now) - DAY);
        report.events_last_24h = lastDay.slice(0, MAX_EVENTS).map((event) => ({ ...shown(event), code: event.code }));
        if (lastDay.length > MAX_EVENTS) report.events_not_shown = true;
        report.last_send =
          attempt === null
            ? null
            : {
                window: formatTime(attempt.window_start),
                at: formatTime(Math.floor(attempt.attempted_at)),
                outcome: attempt.outcome,
                http_status: attempt.http_status,
                error: attempt.error,
                uid: attempt.server_uid,
              };
        const stale = 3 * config.collection.interval_seconds;
        if (last === null) problems.push("no sample stored yet");
        else if (now - last > stale) problems.push(`no sample for ${Math.round(now - last)} s (more than 3 intervals)`);
        if (attempt && attempt.outcome !== "sent") problems.push(`the last send failed: ${attempt.error}`);
        if (agentPid !== null) {
          for (const event of gpusInTrouble(store.events.recent(1000))) problems.push(`GPU ${event.gpu_index} unreadable since ${formatTime(event.ts)}: ${event.detail}`);
        }
      } finally {
        store.close();
      }
    }
    report.healthy = problems.length === 0;
    report.problems = problems;
    process.stdout.write(args.format === "json" ? JSON.stringify(report, null, 2) + "\n" : statusText(escapeStrings(report)));
    if (problems.length > 0) process.exitCode = EXIT.failure;
  },
});

const DAY = 86_400;
/** Events listed at most; the log and the database keep them all. */
const MAX_EVENTS = 50;

function sizeOnDisk(file: string): number {
  return [file, `${file}-wal`].reduce((sum, path) => sum + (existsSync(path) ? statSync(path).size : 0), 0);
}

/** Every text in the report escaped: a server's uid or error text, a GPU name, are shown, never obeyed. */
function escapeStrings(value: unknown): any {
  if (typeof value === "string") return escapeControl(value);
  if (Array.isArray(value)) return value.map(escapeStrings);
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, escapeStrings(item)]));
  return value;
}

function statusText(report: Record<string, any>): string {
  const lines = [
    `Agent:        ${report.agent.running ? `running (pid ${report.agent.pid})` : "not running"}`,
    `Database:     ${report.database.file}${report.database.bytes === null ? " (none yet)" : ` (${(report.database.bytes / 1e6).toFixed(1)} MB)`}`,
    `Last sample:  ${report.last_sample ?? "none"}`,
    `GPUs seen:    ${report.gpus ? `${report.gpus.length}${report.gpus.length ? ` (${report.gpus.map((g: any) => g.name ?? g.uid).join(", ")})` : ""}` : "none"}`,
    ...(report.gpus?.length ? [`Utilization:  ${utilizationLine(report.gpus)}`] : []),
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

/** "averaged from driver samples on 2 of 3 GPUs; point readings: GPU-…". */
function utilizationLine(gpus: ReadonlyArray<{ uid: string; utilization_source: string | null }>): string {
  const averaged = gpus.filter((gpu) => gpu.utilization_source === "samples").length;
  const point = gpus.filter((gpu) => gpu.utilization_source === "point").map((gpu) => gpu.uid);
  const parts = [`averaged from driver samples on ${averaged} of ${gpus.length} GPU(s)`];
  if (point.length) parts.push(`point readings: ${point.join(", ")}`);
  return parts.join("; ");
}
