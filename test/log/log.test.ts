import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, effectiveLevel, RotatingLogFile } from "../../src/log.ts";

function folder() {
  return mkdtempSync(join(tmpdir(), "gpu-monitor-log-"));
}

describe("the log file", () => {
  test("rotates by size, keeping max_files old files", () => {
    const path = join(folder(), "logs", "gpu_monitor.log");
    const file = new RotatingLogFile({ path, maxBytes: 100, maxFiles: 2 }, () => {});
    for (let i = 0; i < 12; i++) file.write(`line ${i} ${"x".repeat(30)}`); // ~39 bytes each: 2 per file
    expect(readFileSync(path, "utf8").trim().split("\n")).toHaveLength(2);
    expect(readFileSync(path, "utf8")).toContain("line 11");
    expect(readFileSync(`${path}.1`, "utf8")).toContain("line 9");
    expect(readFileSync(`${path}.2`, "utf8")).toContain("line 7");
    expect(existsSync(`${path}.3`)).toBe(false);
  });

  test("a file moved away (logrotate) is recreated by the next line", () => {
    const path = join(folder(), "gpu_monitor.log");
    const file = new RotatingLogFile({ path, maxBytes: 10_000, maxFiles: 5 }, () => {});
    file.write("before");
    renameSync(path, `${path}.old`);
    file.reopen();
    file.write("after");
    expect(readFileSync(path, "utf8")).toBe("after\n");
  });

  test("a log file that cannot be written is reported once and the console goes on", () => {
    const errors: string[] = [];
    const file = new RotatingLogFile({ path: "/proc/gpu_monitor/x.log", maxBytes: 100, maxFiles: 1 }, (m) => errors.push(m));
    file.write("a");
    file.write("b");
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain("cannot write the log file /proc/gpu_monitor/x.log");
  });

  test("levels as the original tool's, timestamps on every line, the same line in the file", () => {
    const lines: string[] = [];
    const path = join(folder(), "a.log");
    const logger = createLogger("WARNING", {
      stream: { write: (t: string) => lines.push(t) } as unknown as NodeJS.WritableStream,
      file: new RotatingLogFile({ path, maxBytes: 10_000, maxFiles: 1 }, () => {}),
    });
    logger.info("hidden");
    logger.withTag("ship").warn("shown");
    logger.error("also shown");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARNING ship: shown\n$/);
    expect(readFileSync(path, "utf8")).toBe(lines.join(""));
  });

  test("-v is DEBUG and -l wins over the config, in any case", () => {
    expect(effectiveLevel("INFO", { verbose: true })).toBe("DEBUG");
    expect(effectiveLevel("INFO", { verbose: true, logLevel: "error" })).toBe("ERROR");
    expect(effectiveLevel("WARNING", {})).toBe("WARNING");
  });

  test("a message holding control characters stays one line, its controls escaped, on the console and in the file", () => {
    const lines: string[] = [];
    const path = join(folder(), "a.log");
    const logger = createLogger("INFO", {
      stream: { write: (t: string) => lines.push(t) } as unknown as NodeJS.WritableStream,
      file: new RotatingLogFile({ path, maxBytes: 10_000, maxFiles: 1 }, () => {}),
    });
    logger.withTag("ship").info("window sent (uid \x1b[2J\r\n2026-01-01T00:00:00.000Z ERROR forged \u202egnp.exe)");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/ INFO ship: window sent \(uid \\x1b\[2J\\x0d\\x0a2026-01-01T00:00:00\.000Z ERROR forged \\u202egnp\.exe\)\n$/);
    expect(readFileSync(path, "utf8").split("\n")).toHaveLength(2);
  });
});
