// The agent's database: one connection, and a store per kind of data, each
// owning its SQL. Nothing outside src/store/ sees the connection.

import { openDatabase, type OpenStoreOptions } from "./database.ts";
import { EventStore } from "./events.ts";
import { GpuStore } from "./gpus.ts";
import { Ledger } from "./ledger.ts";
import { SampleStore } from "./samples.ts";
import { WindowStore } from "./windows.ts";

export class Store {
  readonly gpus: GpuStore;
  readonly samples: SampleStore;
  readonly windows: WindowStore;
  readonly ledger: Ledger;
  readonly events: EventStore;

  private constructor(
    private readonly close_: () => void,
    readonly file: string,
    parts: { gpus: GpuStore; samples: SampleStore; windows: WindowStore; ledger: Ledger; events: EventStore },
  ) {
    this.gpus = parts.gpus;
    this.samples = parts.samples;
    this.windows = parts.windows;
    this.ledger = parts.ledger;
    this.events = parts.events;
  }

  static open(file: string, options: OpenStoreOptions = {}): Store {
    const db = openDatabase(file, options);
    const gpus = new GpuStore(db);
    return new Store(() => db.close(), file, {
      gpus,
      samples: new SampleStore(db, file, gpus, options.readonly ?? false),
      windows: new WindowStore(db, file),
      ledger: new Ledger(db, file),
      events: new EventStore(db, file),
    });
  }

  close(): void {
    this.close_();
  }
}
