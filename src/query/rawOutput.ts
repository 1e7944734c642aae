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
type Renderer = (row: SampleRow) => string;

/** Lists come memoised per value (the reason names), so their JSON is too. */
const listJson = new WeakMap<object, string>();

function jsonValue(value: FieldValue): string {
  if (value === null) return "null";
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "null";
  if (!Array.isArray(value)) return JSON.stringify(value);
  let json = listJson.get(value);
  if (json === undefined) listJson.set(value, (json = JSON.stringify(value)));
  return json;
}

function csvValue(value: FieldValue): string {
  return csvField(Array.isArray(value) ? value.join(";") : value);
}

/**
 * One GPU's record renderer: the GPU's own fields, the names and separators are
 * fixed text; each sample field is an interpolation. It is compiled into one
 * template literal because that renders a record in one step, where adding up
 * 40 pieces with += cost four times as long (the export benchmark). The fixed
 * text goes in as arguments, never into the source, so nothing in it needs escaping.
 */
function compileRenderer(gpu: GpuIdentity, format: QueryFormat): Renderer {
  const texts: string[] = [];
  const fields: Array<(row: SampleRow) => FieldValue> = [];
  let text = format === "json" ? "{" : "";
  RAW_FIELDS.forEach((field, index) => {
    const separator = index === 0 ? "" : ",";
    text += format === "json" ? `${separator}${JSON.stringify(field.name)}:` : separator;
    if (field.perGpu) {
      const value = field.value(gpu);
      text += format === "json" ? jsonValue(value) : csvValue(value);
    } else {
      texts.push(text);
      fields.push(field.value);
      text = "";
    }
  });
  texts.push(format === "json" ? `${text}}` : text);
  const body = fields.map((_, i) => `\${t[${i}]}\${typeof (v = f[${i}](r)) === "number" ? v : other(v)}`).join("");
  const source = `const t = texts, f = fields; return (r) => { let v; return \`${body}\${t[${fields.length}]}\`; };`;
  return new Function("texts", "fields", "other", source)(texts, fields, format === "json" ? jsonValue : csvValue) as Renderer;
}

/** Writes the raw samples with ts in [from, to) as export prints them; returns how many timestamps were written. */
export async function writeRawRange(store: Store, from: number, to: number, format: QueryFormat, out: Output): Promise<number> {
  const buffered = new BufferedOutput(out);
  let gpus = store.gpuIdentities();
  const renderers = new Map<number, Renderer>();
  let groups = 0;
  let current = -1;
  let prefix = "";
  // Pieces joined once per hour: one flat string, where += over 28,800 records builds a rope to flatten.
  const pieces: string[] = format === "csv" ? [csvLine(["timestamp", ...RAW_FIELDS.map((field) => field.name)]) + "\n"] : [];
  let headerDue = format === "csv";
  for (const rows of store.sampleRows(from, to)) {
    for (const row of rows) {
      let render = renderers.get(row.gpu_id);
      if (!render) {
        // A GPU the running agent added after the read began: look the identities up again.
        if (!gpus.has(row.gpu_id)) gpus = store.gpuIdentities();
        renderers.set(row.gpu_id, (render = compileRenderer(gpus.get(row.gpu_id)!, format)));
      }
      if (row.ts !== current) {
        if (format === "json") pieces.push(`${groups === 0 ? "[\n  " : "]},\n  "}{"timestamp":${JSON.stringify(formatTime(row.ts))},"gpus":[`);
        else prefix = `${csvField(formatTime(row.ts))},`;
        current = row.ts;
        groups++;
      } else if (format === "json") {
        pieces.push(",");
      }
      pieces.push(format === "json" ? render(row) : `${prefix}${render(row)}\n`);
    }
    headerDue = false;
    await buffered.write(pieces.join(""));
    pieces.length = 0;
  }
  if (format === "json") pieces.push(groups === 0 ? "[]\n" : "]}\n]\n");
  else if (headerDue) pieces.length = 0; // no rows, no header: as writeGroups
  await buffered.write(pieces.join(""));
  await buffered.flush();
  return groups;
}
