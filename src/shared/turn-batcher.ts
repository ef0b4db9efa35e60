// Gathering the lookups of one event-loop turn into one query: the generic batcher behind the session read.

/** A lookup waiting for its batch. */
interface Pending<V> {
  readonly key: string;
  resolve(value: V | undefined): void;
  reject(error: unknown): void;
}

/** How many keys go into one query, and how many queries may be out at once. */
export interface BatchLimits {
  readonly maxBatch: number;
  readonly maxInFlight: number;
}

/**
 * Gathers the lookups asked for during one turn of the event loop and answers them with one query.
 *
 * Why: a driver runs each query off the event loop (SQLite on libuv's thread pool, PostgreSQL on a server) and hands
 * the answer back through the loop. With one query per lookup, each answer costs a trip through the pool or the
 * network, and under load requests queue for the database while the CPU waits between trips. One query per turn
 * answers every lookup of the turn with one trip. A lone lookup waits only for the end of its turn (setImmediate).
 *
 * `query` gets at most `maxBatch` distinct-or-not keys and returns the values it found with `keyOf` naming each
 * value's key; a key with no value resolves to undefined. A failed query rejects every lookup of its batch.
 */
export class TurnBatcher<V> {
  private readonly waiting: Pending<V>[] = [];
  private inFlight = 0;
  private flushScheduled = false;

  constructor(
    private readonly query: (keys: string[]) => Promise<readonly V[]>,
    private readonly keyOf: (value: V) => string,
    private readonly limits: BatchLimits,
  ) {}

  /** The value for `key`, from the next batch that goes out. */
  find(key: string): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ key, resolve, reject });
      if (this.flushScheduled || this.inFlight >= this.limits.maxInFlight) return;
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    });
  }

  /** Sends what is waiting, a batch per free slot. */
  private flush(): void {
    while (this.waiting.length > 0 && this.inFlight < this.limits.maxInFlight) {
      const batch = this.waiting.splice(0, this.limits.maxBatch);
      this.inFlight += 1;
      this.query(batch.map((lookup) => lookup.key)).then(
        (values) => {
          this.settled();
          const byKey = new Map(values.map((value) => [this.keyOf(value), value]));
          for (const lookup of batch) lookup.resolve(byKey.get(lookup.key));
        },
        (error: unknown) => {
          this.settled();
          for (const lookup of batch) lookup.reject(error);
        },
      );
    }
  }

  /** A batch came back: what gathered meanwhile goes out at once. */
  private settled(): void {
    this.inFlight -= 1;
    this.flush();
  }
}
