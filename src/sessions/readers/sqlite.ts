// SQLite's session readers: a read-only connection of its own on a file, or the ORM's one connection for :memory:.
import {
  BATCHING,
  SQLITE_BATCH_SIZES,
  sessionBatcher,
  sqliteLookup,
  type Reader,
  type SessionRow,
} from './reader';
import type { PooledQuery } from './pooled';

/**
 * The read connection waits this long for a lock, as the ORM's own connection does (src/database/orm.ts). In WAL mode
 * a reader almost never waits; the exception is a checkpoint or WAL recovery by another connection.
 */
const SQLITE_BUSY_TIMEOUT_MS = 5000;

// node-sqlite3 as far as the readers use it: the driver knex loaded for MikroORM (reached through knex, so the read
// path uses exactly the same driver module as the writes).
type Callback<T> = (error: Error | null, value: T) => void;
interface SqliteStatement {
  all(parameters: readonly unknown[], callback: Callback<SessionRow[]>): void;
  finalize(callback: () => void): void;
}
interface SqliteDatabase {
  prepare(sql: string, callback: (error: Error | null) => void): SqliteStatement;
  configure(option: 'busyTimeout', milliseconds: number): void;
  exec(sql: string, callback: (error: Error | null) => void): void;
  close(callback: (error: Error | null) => void): void;
}
export interface SqliteDriver {
  readonly OPEN_READWRITE: number;
  readonly OPEN_FULLMUTEX: number;
  Database: new (filename: string, mode: number, callback: (error: Error | null) => void) => SqliteDatabase;
}
/** Runs a prepared SQLite statement and hands back its rows. */
function allRows(statement: SqliteStatement, parameters: readonly unknown[]): Promise<SessionRow[]> {
  return new Promise((resolve, reject) => {
    // `all`, not `get`: `all` steps the statement to its end, which closes the read transaction at once; `get`
    // would leave it open until the next call, pinning the WAL so that checkpoints cannot complete.
    statement.all(parameters, (error, rows) => (error ? reject(error) : resolve(rows)));
  });
}

/** The parameters of a SQLite batch: its tokens, then NULLs up to the statement's size. */
function paddedTo(size: number, tokenHashes: readonly string[]): (string | null)[] {
  const parameters: (string | null)[] = [...tokenHashes];
  while (parameters.length < size) parameters.push(null);
  return parameters;
}

/** The size of the statement a batch of `count` lookups goes out with. */
function sqliteSizeFor(count: number): number {
  return (
    SQLITE_BATCH_SIZES.find((size) => size >= count) ?? SQLITE_BATCH_SIZES[SQLITE_BATCH_SIZES.length - 1]
  );
}

/**
 * A SQLite database file: a connection of its own, read only, with prepared statements. The ORM's connection (one,
 * as knex allows for SQLite) stays free for writes, and in WAL mode readers never wait for a writer. Each query is
 * its own read transaction, so it sees every write the ORM committed before it started.
 */
export class SqliteFileReader implements Reader {
  private readonly database: SqliteDatabase;
  /** Free statements by size; a statement runs one query at a time, so there is one per batch in flight. */
  private readonly free = new Map<number, SqliteStatement[]>();
  private readonly batcher = sessionBatcher((hashes) => this.query(hashes), BATCHING.sqliteFile);
  private opening: Error | null = null;

  constructor(driver: SqliteDriver, filename: string) {
    // No OPEN_CREATE: the ORM made and migrated the file before anything reads sessions.
    this.database = new driver.Database(filename, driver.OPEN_READWRITE | driver.OPEN_FULLMUTEX, (error) => {
      this.opening = error;
    });
    // node-sqlite3 queues these until the file is open. query_only: this connection must never write, so a bug
    // here cannot bypass the ORM's view of the data.
    this.database.configure('busyTimeout', SQLITE_BUSY_TIMEOUT_MS);
    this.database.exec('pragma query_only = 1', () => undefined);
    for (const size of SQLITE_BATCH_SIZES) {
      const statements = Array.from({ length: BATCHING.sqliteFile.maxInFlight }, () =>
        this.database.prepare(sqliteLookup(size), () => undefined),
      );
      this.free.set(size, statements);
    }
  }

  get broken(): boolean {
    return this.opening !== null;
  }

  find(tokenHash: string): Promise<SessionRow | undefined> {
    if (this.opening !== null) return Promise.reject(this.opening);
    return this.batcher.find(tokenHash);
  }

  async close(): Promise<void> {
    const statements = [...this.free.values()].flat();
    await Promise.all(statements.map((s) => new Promise<void>((resolve) => s.finalize(resolve))));
    await new Promise<void>((resolve, reject) =>
      this.database.close((error) => (error && this.opening === null ? reject(error) : resolve())),
    );
  }

  private async query(tokenHashes: string[]): Promise<SessionRow[]> {
    const size = sqliteSizeFor(tokenHashes.length);
    // The batcher runs at most maxInFlight queries, and each size has that many statements: one is always free.
    const statement = this.free.get(size)?.pop();
    if (statement === undefined) throw new Error(`no free SQLite statement of size ${size}`);
    try {
      return await allRows(statement, paddedTo(size, tokenHashes));
    } finally {
      this.free.get(size)?.push(statement);
    }
  }
}

/** SQLite `:memory:`: the ORM's one connection, with each statement size prepared once per connection. */
export function sqliteSharedQuery(): PooledQuery {
  const prepared = new WeakMap<object, Map<number, SqliteStatement>>();
  return (borrowed, tokenHashes) => {
    const connection = borrowed as SqliteDatabase & object;
    const size = sqliteSizeFor(tokenHashes.length);
    let statements = prepared.get(connection);
    if (statements === undefined) prepared.set(connection, (statements = new Map<number, SqliteStatement>()));
    let statement = statements.get(size);
    if (statement === undefined) {
      statement = connection.prepare(sqliteLookup(size), () => undefined);
      statements.set(size, statement);
    }
    return allRows(statement, paddedTo(size, tokenHashes));
  };
}
