import { expect, test } from "bun:test";
import { csvField, toCsv } from "../../src/util/csv.ts";

test("RFC 4180: fields with commas or quotes are quoted, quotes doubled", () => {
  expect(csvField("plain")).toBe("plain");
  expect(csvField("a,b")).toBe('"a,b"');
  expect(csvField('say "hi"')).toBe('"say ""hi"""');
  expect(csvField('a "b", c')).toBe('"a ""b"", c"');
  expect(csvField(null)).toBe("");
  expect(csvField(12.985)).toBe("12.985");
  expect(csvField(false)).toBe("false");
});

test("a header line, then one line per row", () => {
  expect(toCsv(["a", "b"], [[1, "x,y"], [null, 2]])).toBe('a,b\n1,"x,y"\n,2\n');
});

test("control characters are escaped, so a field cannot set the terminal's title or forge a row", () => {
  expect(csvField("two\nlines")).toBe("two\\x0alines");
  expect(csvField("\x1b]0;pwned\x07,x")).toBe('"\\x1b]0;pwned\\x07,x"');
  expect(toCsv(["name"], [["a\r\nb,1"]])).toBe('name\n"a\\x0d\\x0ab,1"\n');
});
