import { expect, test } from "bun:test";
import { csvField, toCsv } from "../../src/util/csv.ts";

test("RFC 4180: fields with commas, quotes or newlines are quoted, quotes doubled", () => {
  expect(csvField("plain")).toBe("plain");
  expect(csvField("a,b")).toBe('"a,b"');
  expect(csvField('say "hi"')).toBe('"say ""hi"""');
  expect(csvField("two\nlines")).toBe('"two\nlines"');
  expect(csvField(null)).toBe("");
  expect(csvField(12.985)).toBe("12.985");
  expect(csvField(false)).toBe("false");
});

test("a header line, then one line per row", () => {
  expect(toCsv(["a", "b"], [[1, "x,y"], [null, 2]])).toBe('a,b\n1,"x,y"\n,2\n');
});
