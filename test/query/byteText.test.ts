// Numbers written digit by digit must read exactly as String() writes them.

import { describe, expect, test } from "bun:test";
import { ByteText, textBytes } from "../../src/query/byteText.ts";

const decoder = new TextDecoder();
const written = (write: (text: ByteText) => void) => {
  const text = new ByteText(64);
  write(text);
  return decoder.decode(text.bytes.subarray(0, text.length));
};

describe("ByteText", () => {
  test("uint writes every safe integer as String() does", () => {
    const values = [0, 1, 9, 10, 99, 100, 999_999_999, 1e9, 1e9 + 1, 85_520_809_984, 2 ** 31, 2 ** 32 + 7, Number.MAX_SAFE_INTEGER];
    for (let digits = 1; digits <= 16; digits++) values.push(10 ** digits - 1, 10 ** digits, 10 ** digits + 1);
    let seed = 7;
    for (let i = 0; i < 20_000; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      values.push(Math.floor((seed / 2 ** 31) * 10 ** (1 + (i % 16))));
    }
    for (const value of values.filter(Number.isSafeInteger)) expect(written((text) => text.uint(value))).toBe(String(value));
  });

  test("thousandths writes milliwatts as String(mW / 1000) does, for every value up to 2,000,000 and samples to 2^31", () => {
    const text = new ByteText(32);
    let mismatches = 0;
    const check = (value: number) => {
      text.length = 0;
      text.thousandths(value);
      if (decoder.decode(text.bytes.subarray(0, text.length)) !== String(value / 1000)) mismatches++;
    };
    for (let value = 0; value <= 2_000_000; value++) check(value);
    for (let value = 2 ** 31 - 1; value > 2_000_000; value -= 9_973) check(value);
    check(2 ** 31 - 1);
    expect(mismatches).toBe(0);
  });

  test("copies, ASCII and non-ASCII text, and growing past the buffer", () => {
    const text = new ByteText(8);
    text.copy(textBytes("ab"));
    text.ascii("12.5");
    text.ascii("µs");
    text.ascii("ok→");
    expect(text.fits(100)).toBe(false);
    const long = textBytes("x".repeat(100));
    text.reserve(long.length);
    text.copy(long);
    expect(decoder.decode(text.bytes.subarray(0, text.length))).toBe(`ab12.5µsok→${"x".repeat(100)}`);
  });
});
