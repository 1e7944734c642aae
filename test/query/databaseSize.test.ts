import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { databaseBytes, formatSize } from "../../src/query/databaseSize.ts";

describe("the database size status and doctor both show", () => {
  test("the file and its write-ahead log; null when there is no file", () => {
    const dir = mkdtempSync(join(tmpdir(), "db-size-"));
    const file = join(dir, "g.db");
    expect(databaseBytes(file)).toBeNull();
    writeFileSync(file, Buffer.alloc(4096));
    expect(databaseBytes(file)).toBe(4096);
    writeFileSync(`${file}-wal`, Buffer.alloc(1000));
    writeFileSync(`${file}-shm`, Buffer.alloc(32768)); // an index of the WAL, not data
    expect(databaseBytes(file)).toBe(5096);
  });

  test("decimal megabytes with one decimal, gigabytes from 1e9 bytes", () => {
    expect(formatSize(0)).toBe("0.0 MB");
    expect(formatSize(149_999)).toBe("0.1 MB");
    expect(formatSize(12_449_999)).toBe("12.4 MB");
    expect(formatSize(999_999_999)).toBe("1000.0 MB");
    expect(formatSize(3_250_000_000)).toBe("3.3 GB");
  });
});
