import { defineCommand } from "citty";
import type { CommandHelp } from "../help.ts";
import { existsSync } from "node:fs";
import { databaseBytes } from "../../query/databaseSize.ts";
import { gpusInTrouble, utilizationSources } from "../../query/health.ts";
import { formatTime } from "../../util/time.ts";
import { redactUrlCredentials } from "../../util/url.ts";
import { runningAgentPid } from "../../store/lock.ts";
import type { StoredEvent } from "../../store/events.ts";
import { Store } from "../../store/store.ts";
import { EXIT, UsageError } from "../errors.ts";
import { gpuModels, statusText } from "../format/status.ts";
import { commandConfig, configArg } from "../shared.ts";

export const help: CommandHelp = {
  examples: [
    ["gpu_monitor status", "the agent, the database, the GPUs, uploads and the last day's events"],
    ["gpu_monitor status -f json | jq .problems", "why it is unhealthy, for a monitoring script"],
  ],
  exitCodes: { 1: "unhealthy: the last send failed, no sample for 3 intervals, or a GPU is unreadable" },
};

export default defineCommand({
  meta: { name: "status", description: "The agent at a glance; exits 1 when the last send failed, samples stopped or a GPU is unreadable" },
  args: {
    format: { type: "string", alias: "f", description: "text or json", valueHint: "text|json", default: "text" },
    ...configArg,
  },
  async run({ args }) {
    if (args.format !== "text" && args.format !== "json") throw new UsageError(`--format must be text or json, not '${args.format}'`);
    const { config } = commandConfig(args);
    const file = config.database.file;
    const now = Date.now() / 1000;
    const agentPid = runningAgentPid(file);
    const report: Record<string, unknown> = {
      agent: agentPid === null ? { running: false } : { running: true, pid: agentPid },
      database: { file, bytes: databaseBytes(file) },
      server: config.server.url ? redactUrlCredentials(config.server.url) : null,
    };
    const problems: string[] = [];
    if (!existsSync(file)) {
      problems.push("no database yet: the agent has not stored a sample");
    } else {
      await Store.using(file, { readonly: true }, (store) => {
        const { ledger } = store;
        const last = store.samples.latestTs();
        // A MIG device gone from the layout is destroyed for good (its windows keep its history):
        // the MIG devices listed are those of the latest tick.
        const gpus = [...store.gpus.all().values()].filter((gpu) => !gpu.identity.parent_uid || (last !== null && gpu.lastSeen >= last));
        const attempt = ledger.lastAttempt();
        report.last_sample = last === null ? null : formatTime(last);
        const sources = last === null ? new Map() : utilizationSources(store.samples.series(last, last + 1));
        report.gpus = gpus.map((gpu) => ({
          uid: gpu.identity.uid,
          name: gpu.identity.name,
          last_seen: formatTime(gpu.lastSeen),
          // "samples": the driver's samples averaged over each interval; "point": the instant of each tick
          utilization_source: sources.get(gpu.id) ?? null,
          // a MIG device: the GPU it is part of
          parent_uid: gpu.identity.parent_uid ?? null,
        }));
        // Models of the GPUs themselves: a MIG device is part of one of them.
        report.gpu_models = gpuModels(gpus.filter((gpu) => !gpu.identity.parent_uid).map((gpu) => String(gpu.identity.name ?? gpu.identity.uid)));
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
      });
    }
    report.healthy = problems.length === 0;
    report.problems = problems;
    process.stdout.write(args.format === "json" ? JSON.stringify(report, null, 2) + "\n" : statusText(report));
    if (problems.length > 0) process.exitCode = EXIT.failure;
  },
});

const DAY = 86_400;
/** Events listed at most; the log and the database keep them all. */
const MAX_EVENTS = 50;

