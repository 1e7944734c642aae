import { describe, expect, test } from "bun:test";
import { ColumnCodecError, decodeColumn, encodeColumn } from "../../src/store/columnCodec.ts";

const roundTrip = (values: Array<number | null>) => decodeColumn(encodeColumn(values), values.length);

describe("column codec", () => {
  test("round-trips integers, nulls, repeats and large counters exactly", () => {
    const cases: Array<Array<number | null>> = [
      [],
      [0],
      [null],
      [null, 0, 0, null, null, 5, 5, 5, -3, 2 ** 52, -(2 ** 52), 0],
      [85_520_809_984, 85_520_809_984, 40_000_000_000, null, 40_000_000_000],
      [Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 0],
      [1.5, 2, null, -0, Number.NaN, 1e300],
    ];
    for (const values of cases) expect(roundTrip(values)).toEqual(values);
    expect(Object.is(roundTrip([-0])[0], -0)).toBe(true);
  });

  test("round-trips random columns", () => {
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let run = 0; run < 200; run++) {
      const values = Array.from({ length: Math.floor(next() * 400) }, () => {
        const r = next();
        if (r < 0.1) return null;
        if (r < 0.5) return 42;
        return Math.floor((next() - 0.5) * 2 ** (1 + Math.floor(next() * 52)));
      });
      expect(roundTrip(values)).toEqual(values);
    }
  });

  test("a constant column takes a few bytes; a counter's steps take their own size", () => {
    expect(encodeColumn(new Array(3600).fill(700_000)).length).toBeLessThanOrEqual(8);
    expect(encodeColumn(new Array(3600).fill(null)).length).toBeLessThanOrEqual(3);
    const energy = Array.from({ length: 3600 }, (_, i) => 1_000_000_000_000 + i * 300_000 + (i % 7) * 1000);
    expect(encodeColumn(energy).length / 3600).toBeLessThan(4.1);
  });

  test("bytes that do not hold the block's count are refused, not guessed", () => {
    const bytes = encodeColumn([1, 2, 3]);
    expect(() => decodeColumn(bytes, 2)).toThrow(ColumnCodecError);
    expect(() => decodeColumn(bytes, 4)).toThrow("holds 3 values, its block 4");
    expect(() => decodeColumn(new Uint8Array([9]), 0)).toThrow("unknown column encoding");
    expect(() => decodeColumn(new Uint8Array([1, 0x80]), 1)).toThrow("truncated");
  });
});

test("a limit stops decoding once the first values are known, and still refuses bytes that end before it", () => {
  const values = [5, 5, null, 7, 8, 9];
  const bytes = encodeColumn(values);
  expect(decodeColumn(bytes, 6, 4).slice(0, 4)).toEqual([5, 5, null, 7]);
  // Only the limit makes this decode succeed: the bytes hold 4 values of a block of 6.
  const short = encodeColumn([5, 5, null, 7]);
  expect(decodeColumn(short, 6, 4).slice(0, 4)).toEqual([5, 5, null, 7]);
  expect(() => decodeColumn(short, 6)).toThrow("holds 4 values, its block 6");
  expect(() => decodeColumn(encodeColumn([1, 2]), 6, 4)).toThrow(ColumnCodecError);
});
