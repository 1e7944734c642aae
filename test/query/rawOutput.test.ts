// The fast raw writer prints exactly what the generic one does, for every field
// kind: nulls, quoted names, booleans, lists, compacted and raw samples alike.

import { describe, expect, test } from "bun:test";
import { rawGroups } from "../../src/query/collection.ts";
import { writeGroups, type Output, type QueryFormat } from "../../src/query/output.ts";
import { writeRawRange } from "../../src/query/rawOutput.ts";
import { Store } from "../../src/store/store.ts";
import { eightGpus, gpuSample, tempDatabase } from "../helpers/samples.ts";

const T0 = 1_767_225_600;

function capture(): Output & { text: string } {
  const out = { text: "", async write(chunk: string) { out.text += chunk; } };
  return out;
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
        const fast = capture();
        const generic = capture();
        const fastCount = await writeRawRange(store, from, to, format, fast);
        const genericCount = await writeGroups(rawGroups(store, from, to), format, generic, { compact: true });
        expect(fastCount).toBe(genericCount);
        expect(fast.text).toBe(generic.text);
      }
      const all = capture();
      expect(await writeRawRange(store, 0, 2 ** 40, format, all)).toBeGreaterThan(200);
      if (format === "json") expect(JSON.parse(all.text)[0].gpus[1].name).toBe('NVIDIA "A100", 80GB\nPCIe');
      else expect(all.text).toContain('"NVIDIA ""A100"", 80GB\nPCIe"');
      store.close();
    });
  }
});
