// Raw samples of a range written straight as compact JSON or CSV bytes: byte for
// byte what writeGroups prints for rawGroups, without an object or a string per
// sample. An hour of 8 GPUs at 1 s is 20 MB of JSON: each GPU's fixed text (its
// identity, the field names) is encoded once, and each value is written as digits
// from the stored columns into one reused buffer.

import { csvField, csvLine } from "../cli/format/csv.ts";
import { scanShape } from "../store/columnCodec.ts";
import type { SampleColumns } from "../store/sampleBlocks.ts";
import { SAMPLE_COLUMNS } from "../store/sampleBlocks.ts";
import type { GpuIdentity, Store } from "../store/store.ts";
import { ByteText, textBytes } from "./byteText.ts";
import { csvValue, type Output, type QueryFormat } from "./output.ts";
import { RAW_FIELDS, sampleFieldValue, type OutputRecord, type SampleShow } from "./records.ts";
import { formatTime } from "./time.ts";

type FieldValue = OutputRecord[string];

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

function csvText(value: FieldValue): string {
  return csvField(csvValue(value));
}

/** The most a number takes as text ("-1.7976931348623157e+308" is 24). */
const NUMBER_ROOM = 32;

/** The largest stored value each kind writes as plain digits (milliwatts go through int32 arithmetic). */
const DIGITS_LIMIT: Record<SampleShow, number> = { number: Number.MAX_SAFE_INTEGER, watts: 2 ** 31 - 1, reasonNames: -1 };

/** Whether a stored value is written as plain digits: an integer in [0, limit]. */
function digitsFit(value: number | null, limit: number): value is number {
  return value !== null && value >= 0 && value <= limit && value === Math.floor(value);
}

/** One GPU's record: fixed text before each sample field and after the last, and which column each field shows how. */
interface GpuRecord {
  texts: Uint8Array[];
  columns: number[];
  shows: SampleShow[];
}

function gpuRecord(gpu: GpuIdentity, format: QueryFormat): GpuRecord {
  const record: GpuRecord = { texts: [], columns: [], shows: [] };
  let text = format === "json" ? "{" : "";
  RAW_FIELDS.forEach((field, index) => {
    const separator = index === 0 ? "" : ",";
    text += format === "json" ? `${separator}${JSON.stringify(field.name)}:` : separator;
    if (field.perGpu) {
      const value = field.value(gpu);
      text += format === "json" ? jsonValue(value) : csvText(value);
    } else {
      record.texts.push(textBytes(text));
      record.columns.push(SAMPLE_COLUMNS.indexOf(field.column));
      record.shows.push(field.show);
      text = "";
    }
  });
  record.texts.push(textBytes(format === "json" ? `${text}}` : `${text}\n`));
  return record;
}

/** How a span's field is written: digits straight away where every value allows it. */
const WRITE_UINT = 0;
const WRITE_THOUSANDTHS = 1;
const WRITE_ANY = 2;

/** One GPU's records over one span: fixed text around the fields that change, their values, and how to write each. */
interface SpanRecord {
  texts: Uint8Array[];
  values: Array<Array<number | null>>;
  writes: Int32Array;
  shows: SampleShow[];
  /**
   * Values of one width over the span (a temperature of two digits, memory of
   * eleven), written into room left for them in the fixed text: slot s is in the
   * text before field slotPieces[s], at slotOffsets[s], slotWidths[s] digits.
   */
  slotPieces: Int32Array;
  slotOffsets: Int32Array;
  slotWidths: Int32Array;
  slotValues: number[][];
  /** The most bytes one record can take. */
  room: number;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const joined = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    joined.set(part, at);
    at += part.length;
  }
  return joined;
}

/** How many digits a non-negative integer takes. */
function digitCount(value: number): number {
  let count = 1;
  while (value >= 10) {
    value = Math.floor(value / 10);
    count++;
  }
  return count;
}

/**
 * A GPU's records for one span of its samples. A field whose value does not
 * change over the span (the memory clock, the power limit, a fan that is not
 * there: often most of them) is written once into the fixed text around it, and
 * one whose digits keep their count (memory in bytes, a temperature) gets a slot
 * in that text; so each record copies few, long pieces and writes only values.
 */
function spanRecord(
  gpu: GpuRecord,
  series: SampleColumns,
  writeValue: ValueWriter,
  reasonText: (stored: number) => Uint8Array,
  scratch: ByteText,
): SpanRecord {
  const texts: Uint8Array[] = [];
  const values: Array<Array<number | null>> = [];
  const writes: number[] = [];
  const shows: SampleShow[] = [];
  const slotPieces: number[] = [];
  const slotOffsets: number[] = [];
  const slotWidths: number[] = [];
  const slotValues: number[][] = [];
  let room = 0; // the varying values' longest texts
  let pending: Uint8Array[] = [gpu.texts[0]!];
  let pendingLength = gpu.texts[0]!.length;
  const append = (bytes: Uint8Array) => {
    pending.push(bytes);
    pendingLength += bytes.length;
  };
  for (let f = 0; f < gpu.columns.length; f++) {
    const column = series.values[gpu.columns[f]!]!;
    const show = gpu.shows[f]!;
    const limit = DIGITS_LIMIT[show];
    const first = column[0]!;
    // A block's column comes with what its decode saw; rows read from the table are read once more here.
    const decoded = series.shapes?.[gpu.columns[f]!];
    const { constant, wholeNumbers, low, high } = decoded?.known ? decoded : scanShape(column);
    const digits = !constant && wholeNumbers && low >= 0 && high <= limit;
    if (constant) {
      scratch.length = 0;
      writeValue(scratch, first, show);
      append(scratch.bytes.slice(0, scratch.length));
      append(gpu.texts[f + 1]!);
      continue;
    }
    if (digits && show === "number" && digitCount(low) === digitCount(high)) {
      const width = digitCount(low);
      slotPieces.push(texts.length);
      slotOffsets.push(pendingLength);
      slotWidths.push(width);
      slotValues.push(column as number[]);
      append(new Uint8Array(width));
      append(gpu.texts[f + 1]!);
      continue;
    }
    texts.push(concat(pending));
    room += show === "reasonNames" ? longestReasonText(column, reasonText) : NUMBER_ROOM;
    values.push(column);
    writes.push(!digits ? WRITE_ANY : show === "watts" ? WRITE_THOUSANDTHS : WRITE_UINT);
    shows.push(show);
    pending = [];
    pendingLength = 0;
    append(gpu.texts[f + 1]!);
  }
  texts.push(concat(pending));
  room += texts.reduce((sum, bytes) => sum + bytes.length, 0);
  return {
    texts,
    values,
    writes: Int32Array.from(writes),
    shows,
    slotPieces: Int32Array.from(slotPieces),
    slotOffsets: Int32Array.from(slotOffsets),
    slotWidths: Int32Array.from(slotWidths),
    slotValues,
    room,
  };
}

/** The longest reason-names text among a column's masks (a null takes "null", a number's room covers it). */
function longestReasonText(column: ReadonlyArray<number | null>, reasonText: (stored: number) => Uint8Array): number {
  let longest = NUMBER_ROOM;
  let previous: number | null = null;
  for (const stored of column) {
    if (stored === null || stored === previous) continue;
    previous = stored;
    longest = Math.max(longest, reasonText(stored).length);
  }
  return longest;
}

type ValueWriter = (text: ByteText, stored: number | null, show: SampleShow) => void;

/**
 * A group's opening text for each timestamp. Formatting a time costs a Date and
 * its local fields; within one minute only the seconds change, so the minute's
 * text is made once and its two seconds digits rewritten per timestamp.
 */
class GroupOpenings {
  private minute = Number.NaN;
  private minuteText: Uint8Array = new Uint8Array(0);
  /** Where the seconds' digits are in minuteText; -1 where the minute's texts differ otherwise (an offset change). */
  private secondsAt = -1;

  constructor(private readonly format: QueryFormat) {}

  opening(ts: number, first: boolean): Uint8Array {
    if (first) return textBytes(this.text(ts, true));
    const minute = Math.floor(ts / 60) * 60;
    if (minute !== this.minute) {
      this.minute = minute;
      const atZero = this.text(minute, false);
      const atFiftyNine = this.text(minute + 59, false);
      let at = 0;
      while (at < atZero.length && atZero[at] === atFiftyNine[at]) at++;
      const onlySeconds =
        atZero.slice(at, at + 2) === "00" && atFiftyNine.slice(at, at + 2) === "59" && atZero.slice(at + 2) === atFiftyNine.slice(at + 2);
      this.minuteText = textBytes(atZero);
      this.secondsAt = onlySeconds && this.minuteText.length === atZero.length ? at : -1;
    }
    const seconds = ts - minute;
    if (this.secondsAt < 0 || !Number.isInteger(seconds)) return textBytes(this.text(ts, false));
    this.minuteText[this.secondsAt] = 48 + Math.floor(seconds / 10);
    this.minuteText[this.secondsAt + 1] = 48 + (seconds % 10);
    return this.minuteText;
  }

  private text(ts: number, first: boolean): string {
    const time = formatTime(ts);
    if (this.format === "csv") return `${csvField(time)},`;
    return `${first ? "[\n  " : "]},\n  "}{"timestamp":${JSON.stringify(time)},"gpus":[`;
  }
}

const COMMA = textBytes(",");

/**
 * Writes a span's samples a timestamp at a time (each GPU's sample at it, in GPU
 * order) while the whole group fits in the buffer. Returns 0 once the span is
 * written, else the room the next group needs: the caller flushes and calls again.
 * Not async, unlike the writer around it: each await resumes an async function
 * through checks that deoptimised this loop (measured: its optimised code thrown
 * away and rebuilt several times an export).
 */
function writeSpanGroups(
  span: readonly SampleColumns[],
  records: readonly SpanRecord[],
  heads: Int32Array,
  text: ByteText,
  json: boolean,
  openings: GroupOpenings,
  count: { groups: number },
  writeValue: ValueWriter,
): number {
  for (;;) {
    let ts = Infinity;
    for (let k = 0; k < span.length; k++) {
      const time = span[k]!.ts[heads[k]!];
      if (time !== undefined && time < ts) ts = time;
    }
    if (ts === Infinity) return 0;
    // JSON opens a group per timestamp; CSV starts each line with it. Asked again after a flush: the same bytes.
    const opening = openings.opening(ts, count.groups === 0);
    let room = json ? opening.length : 0;
    for (let k = 0; k < span.length; k++) {
      if (span[k]!.ts[heads[k]!] === ts) room += records[k]!.room + (json ? COMMA.length : opening.length);
    }
    if (!text.fits(room)) return room;
    if (json) text.copy(opening);
    count.groups++;
    let written = 0;
    for (let k = 0; k < span.length; k++) {
      const at = heads[k]!;
      if (span[k]!.ts[at] !== ts) continue;
      heads[k] = at + 1;
      if (!json) text.copy(opening);
      else if (written++ > 0) text.copy(COMMA);
      const { texts, values, writes, shows, slotPieces, slotOffsets, slotWidths, slotValues } = records[k]!;
      let slot = 0;
      for (let f = 0; f <= values.length; f++) {
        const pieceAt = text.length;
        text.copy(texts[f]!);
        for (; slot < slotPieces.length && slotPieces[slot] === f; slot++) {
          text.digitsAt(pieceAt + slotOffsets[slot]!, slotWidths[slot]!, slotValues[slot]![at]!);
        }
        if (f === values.length) break;
        const write = writes[f]!;
        if (write === WRITE_UINT) text.uint(values[f]![at]!);
        else if (write === WRITE_THOUSANDTHS) text.thousandths(values[f]![at]!);
        else writeValue(text, values[f]![at]!, shows[f]!);
      }
    }
  }
}

/** A buffer kept between exports: faulting in a fresh megabyte each time costs about a millisecond. */
let spareText: ByteText | null = null;

/** Writes the raw samples with ts in [from, to) as export prints them; returns how many timestamps were written. */
export async function writeRawRange(
  store: Store,
  from: number,
  to: number,
  format: QueryFormat,
  out: Output,
  options: { bufferBytes?: number } = {},
): Promise<number> {
  const sized = options.bufferBytes !== undefined;
  const text = (!sized && spareText) || new ByteText(options.bufferBytes);
  if (!sized) spareText = null;
  try {
    return await writeRange(store, from, to, format, out, text);
  } finally {
    text.length = 0;
    if (!sized) spareText = text;
  }
}

async function writeRange(store: Store, from: number, to: number, format: QueryFormat, out: Output, text: ByteText): Promise<number> {
  const flush = async () => {
    if (text.length === 0) return;
    await out.write(text.bytes.subarray(0, text.length)); // settles once `out` is done with the bytes
    text.length = 0;
  };
  const json = format === "json";
  const nullText = textBytes(json ? "null" : "");
  const reasonTexts = new Map<number, Uint8Array>();
  const scratch = new ByteText(1024);
  const openings = new GroupOpenings(format);
  let gpus = store.gpuIdentities();
  const records = new Map<number, GpuRecord>();
  const recordOf = (gpuId: number): GpuRecord => {
    let record = records.get(gpuId);
    if (!record) {
      // A GPU the running agent added after the read began: look the identities up again.
      if (!gpus.has(gpuId)) gpus = store.gpuIdentities();
      records.set(gpuId, (record = gpuRecord(gpus.get(gpuId)!, format)));
    }
    return record;
  };
  const other = (show: SampleShow, stored: number) => {
    const value = sampleFieldValue(show, stored);
    return json ? jsonValue(value) : csvText(value);
  };
  const reasonText = (stored: number): Uint8Array => {
    let names = reasonTexts.get(stored);
    if (!names) reasonTexts.set(stored, (names = textBytes(other("reasonNames", stored))));
    return names;
  };
  const writeValue: ValueWriter = (text, stored, show) => {
    if (stored === null) text.copy(nullText);
    else if (show === "reasonNames") text.copy(reasonText(stored));
    else if (!digitsFit(stored, DIGITS_LIMIT[show])) text.ascii(other(show, stored));
    else if (show === "watts") text.thousandths(stored);
    else text.uint(stored);
  };
  /** Room for `count` more bytes: what is written goes out first, and one record larger than the buffer grows it. */
  const makeRoom = async (count: number) => {
    await flush();
    text.reserve(count);
  };

  if (!json) {
    const header = textBytes(csvLine(["timestamp", ...RAW_FIELDS.map((field) => field.name)]) + "\n");
    text.reserve(header.length);
    text.copy(header);
  }
  const count = { groups: 0 };
  for (const span of store.sampleColumns(from, to)) {
    const records = span.map((series) => spanRecord(recordOf(series.gpuId), series, writeValue, reasonText, scratch));
    const heads = new Int32Array(span.length);
    for (let room = writeSpanGroups(span, records, heads, text, json, openings, count, writeValue); room > 0; ) {
      await makeRoom(room);
      room = writeSpanGroups(span, records, heads, text, json, openings, count, writeValue);
    }
  }
  const groups = count.groups;
  const closing = textBytes(json ? (groups === 0 ? "[]\n" : "]}\n]\n") : "");
  if (!text.fits(closing.length)) await makeRoom(closing.length);
  text.copy(closing);
  if (!json && groups === 0) text.length = 0; // no rows, no header: as writeGroups
  await flush();
  return groups;
}
