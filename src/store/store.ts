// The agent's database: one connection, and a store per kind of data, each
// owning its SQL. Nothing outside src/store/ sees the connection.

import { openSync } from "node:fs";
import { openFileReadLock } from "../platform/libc.ts";
import { asStoreError, openDatabase, type OpenStoreOptions } from "./database.ts";
import { EventStore } from "./events.ts";
import { GpuStore } from "./gpus.ts";
import { Ledger } from "./ledger.ts";
import { ProcessStore } from "./processes.ts";
import { SampleStore } from "./samples.ts";
import { WindowStore } from "./windows.ts";

export class Store {
  readonly gpus: GpuStore;
  readonly samples: SampleStore;
  readonly windows: WindowStore;
  readonly ledger: Ledger;
  readonly events: EventStore;
  readonly processes: ProcessStore;

  private constructor(
    private readonly close_: (checkpoint: boolean) => void,
    readonly file: string,
    parts: { gpus: GpuStore; samples: SampleStore; windows: WindowStore; ledger: Ledger; events: EventStore; processes: ProcessStore },
  ) {
    this.processes = parts.processes;
    this.gpus = parts.gpus;
    this.samples = parts.samples;
    this.windows = parts.windows;
    this.ledger = parts.ledger;
    this.events = parts.events;
  }

  static open(file: string, options: OpenStoreOptions = {}): Store {
    const db = openDatabase(file, options);
    const gpus = new GpuStore(db);
    const processes = new ProcessStore(db, file);
    const close = (checkpoint: boolean) => {
      if (!checkpoint) refuseCheckpointOnClose(file);
      db.close();
    };
    return new Store(close, file, {
      gpus,
      samples: new SampleStore(db, file, gpus, options.readonly ?? false, processes),
      windows: new WindowStore(db, file),
      ledger: new Ledger(db, file),
      events: new EventStore(db, file),
      processes,
    });
  }

  /**
   * Runs `use` on the database at `file` and closes it after. An SQLite error on
   * the way (a damaged page met by a query) becomes the StoreError that says what
   * is wrong with the file and what to do.
   */
  static async using<T>(file: string, options: OpenStoreOptions, use: (store: Store) => T | Promise<T>): Promise<T> {
    const store = Store.open(file, options);
    try {
      return await use(store);
    } catch (error) {
      throw asStoreError(error, file);
    } finally {
      store.close();
    }
  }

  /**
   * Closes the database. With `checkpoint: false`, for a process about to exit, nothing
   * is written on the way out (a write on a frozen filesystem would hold the process
   * until it thaws, and Bun closes every database again at exit): the WAL keeps every
   * commit, and the next open replays it.
   */
  close(options: { checkpoint?: boolean } = {}): void {
    this.close_(options.checkpoint ?? true);
  }
}

/**
 * Closing (ours, and Bun's again at exit) checkpoints: it copies the WAL into the file,
 * after taking either the file's exclusive lock or the WAL index's checkpoint lock. Read
 * locks of our own on both, held by descriptors left open until the process exits,
 * make it give up at once. Taking them writes nothing.
 */
function refuseCheckpointOnClose(file: string): void {
  const SHARED_FIRST = 0x40000000 + 2; // sqlite3's os.h: PENDING, RESERVED, then 510 bytes for SHARED
  const WAL_WRITE_LOCK = 120; // then CKPT (121) and RECOVER (122): sqlite3's wal.c
  try {
    openFileReadLock(openSync(file, "r"), SHARED_FIRST, 510);
    openFileReadLock(openSync(`${file}-shm`, "r"), WAL_WRITE_LOCK, 3);
  } catch {
    // no WAL index, or no lock: the close checkpoints, as it always did
  }
}
