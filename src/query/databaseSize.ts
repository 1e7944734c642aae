// How big the database is, as `status` and `doctor` both say it: one measure, one
// rounding, so the two never disagree.

import { existsSync, statSync } from "node:fs";

/** Bytes on disk: the file and its write-ahead log (recent writes live there until a checkpoint); null when there is no file. */
export function databaseBytes(file: string): number | null {
  if (!existsSync(file)) return null;
  return [file, `${file}-wal`].reduce((sum, path) => sum + (existsSync(path) ? statSync(path).size : 0), 0);
}

/** Decimal units with one decimal: "0.1 MB", "12.4 MB", "3.2 GB". */
export function formatSize(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}
