// Compact encoding of one metric's values over a block of samples: each value as
// the difference from the previous one in a varint, runs of repeats and of nulls
// as one token. Pure; exact for every safe integer, with a float64 fallback for
// anything else, so nothing stored is ever rounded.
//
// Layout: one mode byte, then the tokens.
//   MODE_DELTA: unsigned LEB128 varints; token = n * 4 + tag
//     tag 0: n + 1 nulls
//     tag 1: the previous value n + 1 more times
//     tag 2: one value, previous + unzigzag(n)
//   MODE_FLOAT64: per value one flag byte (0 null, 1 value) and 8 bytes little-endian

const MODE_DELTA = 1;
const MODE_FLOAT64 = 2;
const TAG_NULLS = 0;
const TAG_REPEAT = 1;
const TAG_VALUE = 2;

export class ColumnCodecError extends Error {
  override name = "ColumnCodecError";
}

/** Zigzag and the tag still fit in a double's exact range. */
const MAX_ZIGZAG = Math.floor((Number.MAX_SAFE_INTEGER - 3) / 4);

export function encodeColumn(values: ArrayLike<number | null>): Uint8Array {
  return deltaEncodable(values) ? encodeDelta(values) : encodeFloat64(values);
}

function deltaEncodable(values: ArrayLike<number | null>): boolean {
  let previous = 0;
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!;
    if (value === null) continue;
    if (!Number.isSafeInteger(value) || Object.is(value, -0)) return false;
    if (zigzag(value - previous) > MAX_ZIGZAG) return false;
    previous = value;
  }
  return true;
}

function zigzag(delta: number): number {
  return delta >= 0 ? delta * 2 : -delta * 2 - 1;
}

class ByteWriter {
  private buffer = new Uint8Array(256);
  length = 0;

  byte(value: number): void {
    if (this.length === this.buffer.length) this.grow(1);
    this.buffer[this.length++] = value;
  }

  /** Unsigned LEB128 of a safe integer, with arithmetic (bit operators stop at 32 bits). */
  varint(value: number): void {
    if (this.length + 8 > this.buffer.length) this.grow(8);
    while (value >= 0x80) {
      const high = Math.floor(value / 0x80);
      this.buffer[this.length++] = (value - high * 0x80) | 0x80; // not %: on a double that is fmod
      value = high;
    }
    this.buffer[this.length++] = value;
  }

  float64(value: number): void {
    if (this.length + 8 > this.buffer.length) this.grow(8);
    new DataView(this.buffer.buffer).setFloat64(this.length, value, true);
    this.length += 8;
  }

  bytes(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }

  private grow(atLeast: number): void {
    const bigger = new Uint8Array(Math.max(this.buffer.length * 2, this.length + atLeast));
    bigger.set(this.buffer.subarray(0, this.length));
    this.buffer = bigger;
  }
}

function encodeDelta(values: ArrayLike<number | null>): Uint8Array {
  const out = new ByteWriter();
  out.byte(MODE_DELTA);
  let previous = 0;
  let nulls = 0;
  let repeats = 0;
  const flush = () => {
    if (nulls > 0) out.varint((nulls - 1) * 4 + TAG_NULLS);
    if (repeats > 0) out.varint((repeats - 1) * 4 + TAG_REPEAT);
    nulls = 0;
    repeats = 0;
  };
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!;
    if (value === null) {
      if (repeats > 0) flush();
      nulls++;
    } else if (value === previous) {
      if (nulls > 0) flush();
      repeats++;
    } else {
      flush();
      out.varint(zigzag(value - previous) * 4 + TAG_VALUE);
      previous = value;
    }
  }
  flush();
  return out.bytes();
}

function encodeFloat64(values: ArrayLike<number | null>): Uint8Array {
  const out = new ByteWriter();
  out.byte(MODE_FLOAT64);
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!;
    out.byte(value === null ? 0 : 1);
    if (value !== null) out.float64(value);
  }
  return out.bytes();
}

/**
 * Decodes `count` values. Throws on bytes that do not hold exactly `count` values.
 * With `limit`, stops once the first `limit` values are known (a minute early in an hour).
 */
export function decodeColumn(bytes: Uint8Array, count: number, limit = count): Array<number | null> {
  const into = new Array<number | null>(count);
  if (bytes.length === 0) throw new ColumnCodecError("empty column");
  if (bytes[0] === MODE_FLOAT64) return decodeFloat64(bytes, count);
  if (bytes[0] !== MODE_DELTA) throw new ColumnCodecError(`unknown column encoding ${bytes[0]}`);
  let at = 1;
  let filled = 0;
  let previous = 0;
  const stopAt = limit < count ? limit : Infinity; // without a limit, read to the end to catch surplus values
  while (at < bytes.length && filled < stopAt) {
    // Unsigned LEB128. The tag and the zigzag sign sit in the low bits of the first byte,
    // read with bit operators: % on a double compiles to fmod, ten times slower.
    const first = bytes[at++]!;
    let token = first & 0x7f;
    if (first & 0x80) {
      let byte: number;
      let scale = 0x80;
      do {
        if (at >= bytes.length) throw new ColumnCodecError("truncated column");
        byte = bytes[at++]!;
        token += (byte & 0x7f) * scale;
        scale *= 0x80;
      } while (byte & 0x80);
    }
    const tag = first & 3;
    const n = (token - tag) * 0.25;
    if (tag === TAG_VALUE) {
      if (filled >= count) throw new ColumnCodecError("column holds more values than its block");
      previous += (first & 4) === 0 ? n * 0.5 : -(n + 1) * 0.5; // unzigzag: n's low bit is bit 2 of the first byte
      into[filled++] = previous;
    } else if (tag === TAG_REPEAT || tag === TAG_NULLS) {
      const run = n + 1;
      if (filled + run > count) throw new ColumnCodecError("column holds more values than its block");
      const value = tag === TAG_NULLS ? null : previous; // a repeat before any value repeats the 0 that deltas start from
      for (let i = 0; i < run; i++) into[filled++] = value;
    } else {
      throw new ColumnCodecError(`unknown token tag ${tag}`);
    }
  }
  if (filled < limit || (limit === count && filled !== count)) throw new ColumnCodecError(`column holds ${filled} values, its block ${count}`);
  return into;
}

function decodeFloat64(bytes: Uint8Array, count: number): Array<number | null> {
  const into: Array<number | null> = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 1;
  for (let i = 0; i < count; i++) {
    if (at >= bytes.length) throw new ColumnCodecError("truncated column");
    const present = bytes[at++];
    if (present === 0) {
      into.push(null);
      continue;
    }
    if (at + 8 > bytes.length) throw new ColumnCodecError("truncated column");
    into.push(view.getFloat64(at, true));
    at += 8;
  }
  if (at !== bytes.length) throw new ColumnCodecError("column holds more values than its block");
  return into;
}
