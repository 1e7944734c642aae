import { defineCommand } from "citty";
import type { CommandHelp } from "../help.ts";
import { aggregationPeriodSeconds } from "../../aggregate/aggregator.ts";
import { windowStart } from "../../aggregate/windows.ts";
import { createLogger, effectiveLevel } from "../../log.ts";
import { escapeControl } from "../../util/text.ts";
import { formatTime, parseTime } from "../../util/time.ts";

import { Shipper } from "../../ship/shipper.ts";
import { acquireSendLock, runningAgentPid } from "../../store/lock.ts";
import { StoreError } from "../../store/database.ts";
import { Store } from "../../store/store.ts";
import { existsSync } from "node:fs";
import { EXIT, UsageError } from "../errors.ts";
import { commandConfig, configArg } from "../shared.ts";

export const help: CommandHelp = {
  examples: [
    ["gpu_monitor send", "ship every pending window now, oldest first"],
    ["gpu_monitor send --resend failed", "requeue the windows given up on, and ship them"],
  ],
  exitCodes: { 1: "the last attempt failed, or the database cannot be used" },
};

export default defineCommand({
  meta: { name: "send", description: "Ship pending windows now, oldest first; --resend requeues" },
  args: {
    resend: { type: "string", description: "Requeue one window (its start TIME) or every failed one", valueHint: "TIME|failed" },
    verbose: { type: "boolean", alias: "v", description: "Debug logging" },
    ...configArg,
  },
  async run({ args }) {
    const loaded = commandConfig(args);
    const { config } = loaded;
    if (!existsSync(config.database.file)) {
      throw new StoreError(`no database at ${config.database.file} yet: nothing has been collected to send`);
    }
    await Store.using(config.database.file, {}, async (store) => {
      const { ledger } = store;
      if (args.resend !== undefined) {
        const which = args.resend === "failed" ? "failed" : windowStart(parseTime(args.resend, Date.now() / 1000), aggregationPeriodSeconds(config.collection));
        const count = ledger.requeue(which);
        if (count === 0 && which !== "failed") throw new UsageError(`no window starts at ${formatTime(which)} (the window holding ${args.resend})`);
        process.stdout.write(`requeued ${count} window(s)${which === "failed" ? "" : ` (${formatTime(which)})`}\n`);
      }
      const agent = runningAgentPid(config.database.file);
      if (agent !== null && agent !== process.pid) {
        process.stdout.write(`the running agent (pid ${agent}) ships pending windows itself\n`);
        return;
      }
      if (!config.server.url) {
        throw new UsageError(`server.url is not set${loaded.file ? ` in ${loaded.file}` : " (no config file)"}: there is nowhere to send to`);
      }
      const lock = acquireSendLock(config.database.file); // an agent starting meanwhile leaves shipping to us
      try {
        const logger = createLogger(effectiveLevel("WARNING", { verbose: args.verbose }));
        const shipper = new Shipper({ store, config, logger, ignoreBackoff: true });
        const results = await shipper.kick();
        if (results.length === 0) process.stdout.write("nothing to send\n");
        for (const result of results) {
          const at = formatTime(result.windowStart);
          // The uid and the error quote the server: escaped, as in every text output.
          const uid = escapeControl(result.serverUid ?? "");
          const error = escapeControl(result.error ?? "");
          if (result.state === "sent") process.stdout.write(`${at} sent (uid ${uid})\n`);
          else if (result.state === "failed") process.stdout.write(`${at} failed for good: ${error}\n`);
          else process.stdout.write(`${at} not sent: ${error}; queued for ${formatTime(Math.ceil(result.nextAttemptAt ?? 0))}\n`);
        }
        if (results.at(-1) && results.at(-1)!.state !== "sent") process.exitCode = EXIT.failure;
      } finally {
        lock.release();
      }
    });
  },
});
