// Text built as bytes in one reused buffer: an export of an hour of raw samples is
// 20 MB of JSON, and building it as strings costs more in flattening and encoding
// than in choosing the characters. Numbers are written digit by digit, fixed text
// is copied from bytes encoded once.

const encoder = new TextEncoder();

/** "00".."99": two digits per step when writing a number. */
const DIGIT_PAIRS = new Uint8Array(200);
for (let i = 0; i < 100; i++) {
  DIGIT_PAIRS[i * 2] = 48 + Math.floor(i / 10);
  DIGIT_PAIRS[i * 2 + 1] = 48 + (i % 10);
}

/** Longest copy done byte by byte: below this a loop beats the call into set(). */
const SHORT_COPY = 48;

export function textBytes(text: string): Uint8Array {
  return encoder.encode(text);
}

export class ByteText {
  bytes: Uint8Array;
  length = 0;

  constructor(capacity = 1 << 20) {
    this.bytes = new Uint8Array(capacity);
  }

  /** Room for `count` more bytes; the caller flushes when this is false. */
  fits(count: number): boolean {
    return this.length + count <= this.bytes.length;
  }

  /** Grows the buffer for one piece larger than it (a GPU name of a megabyte). */
  reserve(count: number): void {
    if (this.fits(count)) return;
    const bigger = new Uint8Array(Math.max(this.bytes.length * 2, this.length + count));
    bigger.set(this.bytes.subarray(0, this.length));
    this.bytes = bigger;
  }

  /** Copies bytes in; the caller has made room (fits, reserve). */
  copy(source: Uint8Array): void {
    const bytes = this.bytes;
    let at = this.length;
    const count = source.length;
    if (count > SHORT_COPY) {
      bytes.set(source, at);
      this.length = at + count;
      return;
    }
    for (let i = 0; i < count; i++) bytes[at++] = source[i]!;
    this.length = at;
  }

  /** ASCII text (numbers as String() writes them); anything else goes through the encoder. */
  ascii(text: string): void {
    this.reserve(text.length * 3); // UTF-8 takes at most three bytes per UTF-16 unit
    const bytes = this.bytes;
    let at = this.length;
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code > 127) {
        this.copy(encoder.encode(text.slice(i)));
        return;
      }
      bytes[at++] = code;
    }
    this.length = at;
  }

  /** A non-negative integer below 2^53, as String() writes it. */
  uint(value: number): void {
    if (value < 1e9) {
      this.smallUint(value | 0);
      return;
    }
    const high = Math.floor(value / 1e9);
    this.smallUint(high | 0);
    this.nineDigits(value - high * 1e9);
  }

  /**
   * Milliunits as String(value / 1000) writes them (mW as watts): the integer
   * part, then up to three decimals without trailing zeros. For 0 <= value < 2^31
   * the shortest decimal that reads back as value / 1000 is exactly that.
   */
  thousandths(value: number): void {
    const whole = (value / 1000) | 0;
    let fraction = (value - whole * 1000) | 0;
    this.smallUint(whole);
    if (fraction === 0) return;
    const bytes = this.bytes;
    let at = this.length;
    bytes[at++] = 46; // .
    bytes[at++] = 48 + ((fraction / 100) | 0);
    fraction %= 100;
    if (fraction !== 0) {
      bytes[at++] = 48 + ((fraction / 10) | 0);
      fraction %= 10;
      if (fraction !== 0) bytes[at++] = 48 + fraction;
    }
    this.length = at;
  }

  private smallUint(value: number): void {
    const digits = value < 10 ? 1 : value < 100 ? 2 : value < 1000 ? 3 : value < 10000 ? 4 : value < 100000 ? 5 : value < 1000000 ? 6 : value < 10000000 ? 7 : value < 100000000 ? 8 : value < 1000000000 ? 9 : 10;
    const bytes = this.bytes;
    let at = this.length + digits;
    this.length = at;
    let rest = value;
    while (rest >= 100) {
      const pair = (rest % 100) * 2;
      rest = (rest / 100) | 0;
      bytes[--at] = DIGIT_PAIRS[pair + 1]!;
      bytes[--at] = DIGIT_PAIRS[pair]!;
    }
    if (rest >= 10) {
      bytes[--at] = DIGIT_PAIRS[rest * 2 + 1]!;
      bytes[--at] = DIGIT_PAIRS[rest * 2]!;
    } else {
      bytes[--at] = 48 + rest;
    }
  }

  /** 0 <= value < 1e9 as exactly nine digits, leading zeros kept. */
  private nineDigits(value: number): void {
    const bytes = this.bytes;
    let at = this.length + 9;
    this.length = at;
    let rest = value | 0;
    for (let i = 0; i < 4; i++) {
      const pair = (rest % 100) * 2;
      rest = (rest / 100) | 0;
      bytes[--at] = DIGIT_PAIRS[pair + 1]!;
      bytes[--at] = DIGIT_PAIRS[pair]!;
    }
    bytes[--at] = 48 + rest;
  }
}
