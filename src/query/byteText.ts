// Text built as bytes in one reused buffer: an export of an hour of raw samples is
// 20 MB of JSON, and building it as strings costs more in flattening and encoding
// than in choosing the characters. Numbers are written digit by digit, fixed text
// is copied from bytes encoded once.

const encoder = new TextEncoder();

/** "0000".."9999": four digits per step when writing a number (a division per four digits, not per one). */
const FOUR_DIGITS = new Uint8Array(40_000);
for (let i = 0; i < 10_000; i++) {
  FOUR_DIGITS[i * 4] = 48 + Math.floor(i / 1000);
  FOUR_DIGITS[i * 4 + 1] = 48 + (Math.floor(i / 100) % 10);
  FOUR_DIGITS[i * 4 + 2] = 48 + (Math.floor(i / 10) % 10);
  FOUR_DIGITS[i * 4 + 3] = 48 + (i % 10);
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
        this.length = at;
        this.copy(encoder.encode(text.slice(i)));
        return;
      }
      bytes[at++] = code;
    }
    this.length = at;
  }

  /** A non-negative integer below 2^53, as String() writes it. */
  uint(value: number): void {
    if (value < 1e4) {
      this.upToFour(value | 0);
    } else if (value < 1e8) {
      const high = (value / 1e4) | 0;
      this.upToFour(high);
      this.four((value - high * 1e4) | 0);
    } else if (value < 1e12) {
      const high = Math.floor(value / 1e8);
      this.upToFour(high | 0);
      this.eight(value - high * 1e8);
    } else {
      const high = Math.floor(value / 1e8);
      this.uint(high);
      this.eight(value - high * 1e8);
    }
  }

  /**
   * Milliunits as String(value / 1000) writes them (mW as watts): the integer
   * part, then up to three decimals without trailing zeros. For 0 <= value < 2^31
   * the shortest decimal that reads back as value / 1000 is exactly that.
   */
  thousandths(value: number): void {
    const whole = (value / 1000) | 0;
    let fraction = (value - whole * 1000) | 0;
    this.uint(whole);
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

  /** A non-negative integer of exactly `width` digits, written at `at` (room already copied in). */
  digitsAt(at: number, width: number, value: number): void {
    const bytes = this.bytes;
    let end = at + width;
    while (end - at > 4) {
      const high = Math.floor(value / 1e4);
      const from = (value - high * 1e4) * 4;
      end -= 4;
      bytes[end] = FOUR_DIGITS[from]!;
      bytes[end + 1] = FOUR_DIGITS[from + 1]!;
      bytes[end + 2] = FOUR_DIGITS[from + 2]!;
      bytes[end + 3] = FOUR_DIGITS[from + 3]!;
      value = high;
    }
    const from = value * 4 + 4 - (end - at);
    for (let i = at; i < end; i++) bytes[i] = FOUR_DIGITS[from + i - at]!;
  }

  /** 0 <= value < 1e4, without leading zeros. */
  private upToFour(value: number): void {
    const bytes = this.bytes;
    const at = this.length;
    const from = value * 4;
    if (value >= 1000) {
      bytes[at] = FOUR_DIGITS[from]!;
      bytes[at + 1] = FOUR_DIGITS[from + 1]!;
      bytes[at + 2] = FOUR_DIGITS[from + 2]!;
      bytes[at + 3] = FOUR_DIGITS[from + 3]!;
      this.length = at + 4;
    } else if (value >= 100) {
      bytes[at] = FOUR_DIGITS[from + 1]!;
      bytes[at + 1] = FOUR_DIGITS[from + 2]!;
      bytes[at + 2] = FOUR_DIGITS[from + 3]!;
      this.length = at + 3;
    } else if (value >= 10) {
      bytes[at] = FOUR_DIGITS[from + 2]!;
      bytes[at + 1] = FOUR_DIGITS[from + 3]!;
      this.length = at + 2;
    } else {
      bytes[at] = 48 + value;
      this.length = at + 1;
    }
  }

  /** 0 <= value < 1e4 as exactly four digits. */
  private four(value: number): void {
    const bytes = this.bytes;
    const at = this.length;
    const from = value * 4;
    bytes[at] = FOUR_DIGITS[from]!;
    bytes[at + 1] = FOUR_DIGITS[from + 1]!;
    bytes[at + 2] = FOUR_DIGITS[from + 2]!;
    bytes[at + 3] = FOUR_DIGITS[from + 3]!;
    this.length = at + 4;
  }

  /** 0 <= value < 1e8 as exactly eight digits. */
  private eight(value: number): void {
    const high = (value / 1e4) | 0;
    this.four(high);
    this.four((value - high * 1e4) | 0);
  }
}
