// The fast raw writer prints exactly what the generic one does, for every field
// kind: nulls, quoted names, booleans, lists, compacted and raw samples alike.

import { describe, expect, test } from "bun:test";
import { rawGroups } from "../../src/query/collection.ts";
import { writeGroups, type Output, type QueryFormat } from "../../src/query/output.ts";
import { writeRawRange } from "../../src/query/rawOutput.ts";
import { Store } from "../../src/store/store.ts";
import { eightGpus, gpuSample, tempDatabase } from "../helpers/samples.ts";

const T0 = 1_767_225_600;

/** Keeps what was written; bytes are decoded at once, as the writer refills its buffer after each write. */
function capture(): Output & { text: string } {
  const decoder = new TextDecoder();
  const out = {
    text: "",
    async write(chunk: string | Uint8Array) {
      out.text += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
    },
  };
  return out;
}

/** Stored values no GPU reports but a database may hold: negative, fractional, huge, a mW value past 2^31. */
function oddStore(): Store {
  const store = Store.open(tempDatabase());
  for (let t = 0; t < 1200; t++) store.writeTick(T0 + t, eightGpus(t).slice(0, 2));
  const odd = [-5, 2.5, 2 ** 40, 1e300, Number.MAX_SAFE_INTEGER, -0.001, 2 ** 31, 2 ** 31 - 1, 0];
  odd.forEach((value, i) => {
    for (const ts of [T0 + 10 + i, T0 + 700 + i]) {
      store.db.run(
        `UPDATE samples SET temperature = ?, power_mw = ?, memory_used = ?, energy_mj = ?, clock_event_reasons = ? WHERE ts = ? AND gpu_id = 1`,
        [value, value, value, value, Number.isInteger(value) && value >= 0 && value < 2 ** 31 ? value : 3, ts],
      );
    }
  });
  store.compactBlocks(T0 + 600); // odd values in a block (float64 columns) and in rows
  return store;
}

async function expectSameAsGeneric(store: Store, format: QueryFormat, from: number, to: number, bufferBytes?: number): Promise<void> {
  const fast = capture();
  const generic = capture();
  const fastCount = await writeRawRange(store, from, to, format, fast, bufferBytes === undefined ? {} : { bufferBytes });
  const genericCount = await writeGroups(rawGroups(store, from, to), format, generic, { compact: true });
  expect(fastCount).toBe(genericCount);
  expect(fast.text).toBe(generic.text);
}

function variedStore(): Store {
  const store = Store.open(tempDatabase());
  for (let t = 0; t < 2 * 3600 + 600; t += 30) {
    const gpus = eightGpus(t);
    gpus[1] = { ...gpus[1]!, name: 'NVIDIA "A100", 80GB\nPCIe', serial: null, eccEnabled: false, clockEventReasons: 0x4 | 0x20 };
    gpus[2] = { ...gpus[2]!, temperatureCelsius: null, powerUsageWatts: null, fanSpeedsPercent: [30, 41], eccEnabled: null, clockEventReasons: null };
    store.writeTick(T0 + t, t % 90 === 0 ? gpus : gpus.slice(0, 3));
  }
  store.writeTick(T0 + 7300, [gpuSample({ uuid: "GPU-lonely", memoryUsedBytes: null, memoryFreeBytes: 5 })]);
  store.compactBlocks(T0 + 3600); // the first hour as blocks, the rest rows
  return store;
}

describe("writeRawRange", () => {
  for (const format of ["json", "csv"] as QueryFormat[]) {
    test(`${format}: the same bytes as writeGroups(rawGroups(...)) over blocks and rows`, async () => {
      const store = variedStore();
      for (const [from, to] of [[0, 2 ** 40], [T0 + 1800, T0 + 5400], [T0 + 3599, T0 + 3601], [T0 + 99_999, T0 + 100_000]] as const) {
        await expectSameAsGeneric(store, format, from, to);
      }
      const all = capture();
      expect(await writeRawRange(store, 0, 2 ** 40, format, all)).toBeGreaterThan(200);
      if (format === "json") expect(JSON.parse(all.text)[0].gpus[1].name).toBe('NVIDIA "A100", 80GB\nPCIe');
      else expect(all.text).toContain('"NVIDIA ""A100"", 80GB\nPCIe"');
      store.close();
    });
  }

  for (const format of ["json", "csv"] as QueryFormat[]) {
    test(`${format}: values no GPU reports (negative, fractional, huge) as the generic writer prints them`, async () => {
      const store = oddStore();
      await expectSameAsGeneric(store, format, 0, 2 ** 40);
      const text = capture();
      await writeRawRange(store, T0 + 10, T0 + 19, format, text);
      for (const shown of ["-5", "2.5", "1e+300", "9007199254740991", "1099511627.776", "2147483.648", "2147483.647"]) expect(text.text).toContain(shown);
      store.close();
    });
  }

  test("an hour in which the clocks go back (a time zone's DST end) prints each time with its own offset", async () => {
    const previous = process.env.TZ;
    process.env.TZ = "Europe/Berlin";
    try {
      const end = Date.UTC(2026, 9, 25, 1) / 1000; // 03:00 CEST becomes 02:00 CET
      const store = Store.open(tempDatabase());
      for (let t = end - 1800; t < end + 1800; t += 1) store.writeTick(t, eightGpus(t).slice(0, 1));
      store.compactBlocks(end);
      const text = capture();
      await writeRawRange(store, end - 2, end + 2, "csv", text);
      expect(text.text.split("\n").slice(1, 5).map((line) => line.slice(0, 25))).toEqual([
        "2026-10-25T02:59:58+02:00",
        "2026-10-25T02:59:59+02:00",
        "2026-10-25T02:00:00+01:00",
        "2026-10-25T02:00:01+01:00",
      ]);
      for (const format of ["json", "csv"] as QueryFormat[]) await expectSameAsGeneric(store, format, end - 1800, end + 1800);
      store.close();
    } finally {
      if (previous === undefined) delete process.env.TZ;
      else process.env.TZ = previous;
    }
  });

  // A value whose digit count holds over a span is written into room left in the fixed text; one whose count
  // changes anywhere in the span (first, last or middle sample, smallest or largest value) must not be.
  test("values of one digit count over a span and values whose count changes, at every width", async () => {
    const store = Store.open(tempDatabase());
    const widths = [1, 2, 3, 4, 5, 8, 9, 12, 16];
    const sequences: Array<(t: number, width: number) => number> = [
      (t, width) => 10 ** (width - 1) + ((t * 7919) % (9 * 10 ** (width - 1))), // one width throughout
      (t, width) => (t === 0 ? 10 ** width : 10 ** (width - 1) + t), // one wider at the start
      (t, width) => (t === 599 ? 10 ** width : 10 ** (width - 1) + t), // one wider at the end
      (t, width) => (t === 300 ? Math.max(0, 10 ** (width - 1) - 1) : 10 ** width - 1 - t), // one narrower in the middle
      (t, width) => (t % 2 === 0 ? 10 ** width - 1 : 10 ** (width - 1)), // the largest and smallest of a width, alternately
    ];
    for (let t = 0; t < 600; t++) {
      const gpus = widths.map((width, index) => {
        const pick = (offset: number) => Math.min(Number.MAX_SAFE_INTEGER, sequences[(index + offset) % sequences.length]!(t, width));
        return gpuSample({
          index,
          uuid: `GPU-${index}`,
          temperatureCelsius: pick(0),
          memoryUsedBytes: pick(1),
          memoryFreeBytes: pick(2),
          energyMillijoules: pick(3),
          graphicsClockMhz: pick(4),
          gpuUtilizationPercent: t % 2,
        });
      });
      store.writeTick(T0 + t, gpus);
    }
    store.compactBlocks(T0 + 600);
    for (const format of ["json", "csv"] as QueryFormat[]) await expectSameAsGeneric(store, format, T0, T0 + 600);
    const text = capture();
    await writeRawRange(store, T0, T0 + 1, "json", text);
    expect(JSON.parse(text.text)[0].gpus[7].temperature).toBe(10 ** 11); // 12 digits, wider than the rest of its span
    store.close();
  });

  // The writer checks for room once per record, so a record's room must cover its longest possible text:
  // here records that are almost all fixed text, long reason lists, and CSV's time at the start of each line.
  test("buffers of any size, down to smaller than one record, give the same bytes", async () => {
    const store = Store.open(tempDatabase());
    for (let t = 0; t < 4; t++) {
      // Sixteen GPUs, one sample per 10-minute span, names of every length: almost every field constant in its span.
      const gpus = Array.from({ length: 16 }, (_, index) =>
        gpuSample({ index, uuid: `GPU-${index}`, name: "N".repeat(index * 7), clockEventReasons: t % 2 === 0 ? 0xe8 : 0x1ff }),
      );
      store.writeTick(T0 + t * 600, gpus);
    }
    for (let t = 0; t < 600; t++) {
      // Eight GPUs whose only changing field is a long list of reasons.
      store.writeTick(T0 + 3000 + t, eightGpus(0).map((gpu) => ({ ...gpu, clockEventReasons: t % 2 === 0 ? 0xe8 : 0x1ff })));
    }
    store.compactBlocks(T0 + 3600);
    for (const format of ["json", "csv"] as QueryFormat[]) {
      for (const bufferBytes of [16, 300, 701, 1_500, 4_096, 65_536]) await expectSameAsGeneric(store, format, 0, 2 ** 40, bufferBytes);
    }
    store.close();
  });
});
