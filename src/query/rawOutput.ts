// Raw samples of a range written straight as compact JSON or CSV: byte for byte
// what writeGroups prints for rawGroups, without an object per sample. A GPU's
// own fields (uid, name, serial, ...) are rendered once, a sample's values
// appended to them: an hour of 8 GPUs at 1 s is 20 MB of JSON.

import { csvField, csvLine } from "../cli/format/csv.ts";
import type { SampleRow } from "../store/sampleBlocks.ts";
import type { GpuIdentity, Store } from "../store/store.ts";
import { BufferedOutput, type Output, type QueryFormat } from "./output.ts";
import { RAW_FIELDS, type OutputRecord } from "./records.ts";
import { formatTime } from "./time.ts";

type FieldValue = OutputRecord[string];
type Part = string | ((row: SampleRow) => FieldValue);

function jsonValue(value: FieldValue): string {
  if (value === null) return "null";
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "null";
  return JSON.stringify(value);
}

function csvValue(value: FieldValue): string {
  return csvField(Array.isArray(value) ? value.join(";") : value);
}

/**
 * One GPU's record as alternating text and sample fields: consecutive text (the
 * GPU's own fields, names, separators) is joined at build time.
 */
function recordParts(gpu: GpuIdentity, format: QueryFormat): Part[] {
  const parts: Part[] = [];
  let text = format === "json" ? "{" : "";
  RAW_FIELDS.forEach((field, index) => {
    const separator = index === 0 ? "" : ",";
    if (format === "json") text += `${separator}${JSON.stringify(field.name)}:`;
    else text += separator;
    if (field.perGpu) {
      const value = field.value(gpu);
      text += format === "json" ? jsonValue(value) : csvValue(value);
    } else {
      parts.push(text, field.value);
      text = "";
    }
  });
  parts.push(format === "json" ? `${text}}` : text);
  return parts;
}

function render(parts: readonly Part[], row: SampleRow, format: QueryFormat): string {
  let out = "";
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (typeof part === "string") out += part;
    else {
      const value = part(row);
      out += typeof value === "number" ? String(value) : format === "json" ? jsonValue(value) : csvValue(value);
    }
  }
  return out;
}

/** Writes the raw samples with ts in [from, to) as export prints them; returns how many timestamps were written. */
export async function writeRawRange(store: Store, from: number, to: number, format: QueryFormat, out: Output): Promise<number> {
  const buffered = new BufferedOutput(out);
  const gpus = store.gpuIdentities();
  const parts = new Map<number, Part[]>();
  let groups = 0;
  let current = -1;
  let prefix = "";
  let text = format === "csv" ? csvLine(["timestamp", ...RAW_FIELDS.map((field) => field.name)]) + "\n" : "";
  let headerDue = format === "csv";
  for (const rows of store.sampleRows(from, to)) {
    for (const row of rows) {
      let gpuParts = parts.get(row.gpu_id);
      if (!gpuParts) parts.set(row.gpu_id, (gpuParts = recordParts(gpus.get(row.gpu_id)!, format)));
      if (row.ts !== current) {
        if (format === "json") text += `${groups === 0 ? "[\n  " : "]},\n  "}{"timestamp":${JSON.stringify(formatTime(row.ts))},"gpus":[`;
        else prefix = `${csvField(formatTime(row.ts))},`;
        current = row.ts;
        groups++;
      } else if (format === "json") {
        text += ",";
      }
      text += format === "json" ? render(gpuParts, row, format) : `${prefix}${render(gpuParts, row, format)}\n`;
    }
    headerDue = false;
    await buffered.write(text);
    text = "";
  }
  if (format === "json") text += groups === 0 ? "[]\n" : "]}\n]\n";
  else if (headerDue) text = ""; // no rows, no header: as writeGroups
  await buffered.write(text);
  await buffered.flush();
  return groups;
}
