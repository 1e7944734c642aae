// A file too big to check whole before each query: a query that meets the
// damaged page says so with the open's message, and only such a file skips the check.

import { describe, expect, test } from "bun:test";
import { sampleBatches } from "../../src/query/batches.ts";
import { asStoreError, checksWholeFile, FULL_CHECK_MAX_BYTES, StoreError } from "../../src/store/database.ts";
import { Store } from "../../src/store/store.ts";
import { damagedDatabase } from "../helpers/damage.ts";

describe("a damaged page met while reading", () => {
  test("without the check at open (a big file), reading the damaged samples gives the open's message", () => {
    const { file } = damagedDatabase();
    const store = Store.open(file, { readonly: true, checkIntegrity: false });
    let error: unknown = null;
    try {
      for (const _batch of sampleBatches(store, 0, 2_000_000_000)) {
        // read every span
      }
    } catch (thrown) {
      error = asStoreError(thrown, store.file);
    } finally {
      store.close();
    }
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).message).toContain(`database ${file} is corrupt or not a gpu_monitor database`);
  });

  test("a query command checks the whole file when it is at most 64 MiB; the agent always does", () => {
    const { file } = damagedDatabase();
    expect(() => Store.open(file, { readonly: true })).toThrow("is corrupt"); // a small file: checked at open
    expect(checksWholeFile(true, FULL_CHECK_MAX_BYTES)).toBe(true);
    expect(checksWholeFile(true, FULL_CHECK_MAX_BYTES + 1)).toBe(false);
    expect(checksWholeFile(false, 10 * FULL_CHECK_MAX_BYTES)).toBe(true);
  });
});
