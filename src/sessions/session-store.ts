// The hot path: the one place that reads cookie → session → user, with prepared statements and no ORM or query builder.
import type { AbstractSqlConnection } from '@mikro-orm/knex';

/** What one authenticated request needs to know, read in one query. */
export interface SessionRecord {
  readonly sessionId: number;
  readonly sessionCreatedAt: Date;
  readonly expiresAt: Date;
  readonly lastSeenAt: Date;
  readonly userId: number;
  readonly email: string;
  readonly userCreatedAt: Date;
}

interface SessionRow {
  token_hash: string;
  session_id: number | string;
  session_created_at: unknown;
  expires_at: unknown;
  last_seen_at: unknown;
  user_id: number | string;
  email: string;
  user_created_at: unknown;
}

// The unique index on token_hash makes each token one index probe plus one primary-key join.
const FIND_BY_TOKEN_HASHES = `select s.token_hash, s.id as session_id, s.created_at as session_created_at,
  s.expires_at, s.last_seen_at, u.id as user_id, u.email, u.created_at as user_created_at
  from sessions s join users u on u.id = s.user_id where s.token_hash`;

/** The SQLite lookup of up to `size` tokens: one probe of the unique index per token; NULL parameters match none. */
function sqliteLookup(size: number): string {
  return `${FIND_BY_TOKEN_HASHES} in (${Array.from({ length: size }, () => '?').join(', ')})`;
}

/** The PostgreSQL lookup of any number of tokens, given as one array parameter (so one statement serves all). */
const POSTGRES_LOOKUP = `${FIND_BY_TOKEN_HASHES} = any($1)`;

/**
 * The name of the PostgreSQL prepared statement. PostgreSQL plans a named statement once per connection and reuses
 * the plan, where an unnamed one is parsed and planned again on every request.
 */
const POSTGRES_STATEMENT_NAME = 'auth_sessions_by_token_hashes';

/**
 * SQLite statement sizes: a batch goes out as the smallest one that holds it, the rest of its parameters NULL, so a
 * lone lookup probes the index once, and a full batch does not need a statement per possible size.
 */
const SQLITE_BATCH_SIZES = [1, 4, 16] as const;

/** How many lookups and concurrent batches each database takes, see LookupBatcher. */
const BATCHING = {
  /** A file's own read connection: queries on one connection run one after another anyway. */
  sqliteFile: { maxBatch: SQLITE_BATCH_SIZES[SQLITE_BATCH_SIZES.length - 1], maxInFlight: 2 },
  /** `:memory:`: the ORM's single connection, shared with its writes. */
  sqliteShared: { maxBatch: SQLITE_BATCH_SIZES[SQLITE_BATCH_SIZES.length - 1], maxInFlight: 1 },
  /** A few of knex's pooled connections (10 by default), leaving the rest to the ORM. */
  postgres: { maxBatch: 64, maxInFlight: 3 },
} as const;

/**
 * The read connection waits this long for a lock, as the ORM's own connection does (src/database.ts). In WAL mode
 * a reader almost never waits; the exception is a checkpoint or WAL recovery by another connection.
 */
const SQLITE_BUSY_TIMEOUT_MS = 5000;

// node-sqlite3 and pg as far as this file uses them. The drivers are the ones knex loaded for MikroORM (reached
// through knex, so the read path uses exactly the same driver modules as the writes); these types describe them.
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
interface SqliteDriver {
  readonly OPEN_READWRITE: number;
  readonly OPEN_FULLMUTEX: number;
  Database: new (filename: string, mode: number, callback: (error: Error | null) => void) => SqliteDatabase;
}
interface PostgresClient {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: SessionRow[] }>;
}
/** knex's Client internals (typed `any` by knex): its dialect, driver module, settings and pool. */
interface KnexClientInternals {
  readonly dialect: string;
  readonly driver: unknown;
  readonly connectionSettings: { readonly filename?: string };
  acquireConnection(): Promise<unknown>;
  releaseConnection(connection: unknown): Promise<void>;
}

/** SQLite hands dates back as epoch milliseconds; PostgreSQL (through MikroORM's type parsers) as text. */
function toDate(value: unknown): Date {
  if (value instanceof Date) return value;
  if (typeof value === 'number') return new Date(value);
  if (typeof value === 'string') return new Date(/^\d+$/.test(value) ? Number(value) : value);
  throw new TypeError(`not a date: ${typeof value}`);
}

function toRecord(row: SessionRow): SessionRecord {
  return {
    sessionId: Number(row.session_id),
    sessionCreatedAt: toDate(row.session_created_at),
    expiresAt: toDate(row.expires_at),
    lastSeenAt: toDate(row.last_seen_at),
    userId: Number(row.user_id),
    email: row.email,
    userCreatedAt: toDate(row.user_created_at),
  };
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

/** A lookup waiting for its batch. */
interface PendingLookup {
  readonly tokenHash: string;
  resolve(row: SessionRow | undefined): void;
  reject(error: unknown): void;
}

/**
 * Gathers the lookups asked for during one turn of the event loop and sends them as one query.
 *
 * Why: a driver runs each query off the event loop (SQLite on libuv's thread pool, PostgreSQL on a server) and hands
 * the answer back through the loop. With one query per lookup, each answer costs a trip through the pool or the
 * network, and under load requests queue for the database while the CPU waits between trips. One query per turn
 * answers every lookup of the turn with one trip: GET /profile on SQLite went from about 6,300 requests/s (one
 * statement per lookup) to about 14,000 on the benchmark machine (bench/README.md). A lone lookup waits only for the
 * end of its turn (setImmediate), which costs no latency worth measuring.
 */
class LookupBatcher {
  private readonly waiting: PendingLookup[] = [];
  private inFlight = 0;
  private flushScheduled = false;

  constructor(
    /** Runs one query for these token hashes (at most maxBatch of them). */
    private readonly query: (tokenHashes: string[]) => Promise<SessionRow[]>,
    private readonly limits: { readonly maxBatch: number; readonly maxInFlight: number },
  ) {}

  find(tokenHash: string): Promise<SessionRow | undefined> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ tokenHash, resolve, reject });
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
      this.query(batch.map((lookup) => lookup.tokenHash)).then(
        (rows) => {
          this.settled();
          const byHash = new Map(rows.map((row) => [row.token_hash, row]));
          for (const lookup of batch) lookup.resolve(byHash.get(lookup.tokenHash));
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

/** How one kind of database runs the lookup: the only part that differs between them. */
interface Reader {
  find(tokenHash: string): Promise<SessionRow | undefined>;
  close(): Promise<void>;
  /** True once the reader can never answer again (its file failed to open): the store then opens a new one. */
  readonly broken: boolean;
}

/**
 * A SQLite database file: a connection of its own, read only, with prepared statements. The ORM's connection (one,
 * as knex allows for SQLite) stays free for writes, and in WAL mode readers never wait for a writer. Each query is
 * its own read transaction, so it sees every write the ORM committed before it started.
 */
class SqliteFileReader implements Reader {
  private readonly database: SqliteDatabase;
  /** Free statements by size; a statement runs one query at a time, so there is one per batch in flight. */
  private readonly free = new Map<number, SqliteStatement[]>();
  private readonly batcher = new LookupBatcher((hashes) => this.query(hashes), BATCHING.sqliteFile);
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

/** Runs one batch's lookup on a connection borrowed from knex's pool. */
type PooledQuery = (connection: unknown, tokenHashes: string[]) => Promise<SessionRow[]>;

/**
 * A reader on connections borrowed from knex's pool (the same pool, limits and timeouts as the ORM's queries):
 * PostgreSQL, and SQLite `:memory:`, where a second connection would open a second, empty database. The
 * statements die with their connections, which the ORM closes, so there is nothing of its own to close.
 */
class PooledReader implements Reader {
  private readonly batcher: LookupBatcher;
  readonly broken = false;

  constructor(
    private readonly client: KnexClientInternals,
    limits: { readonly maxBatch: number; readonly maxInFlight: number },
    private readonly run: PooledQuery,
  ) {
    this.batcher = new LookupBatcher((hashes) => this.query(hashes), limits);
  }

  find(tokenHash: string): Promise<SessionRow | undefined> {
    return this.batcher.find(tokenHash);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private async query(tokenHashes: string[]): Promise<SessionRow[]> {
    const connection = await this.client.acquireConnection();
    try {
      return await this.run(connection, tokenHashes);
    } finally {
      await this.client.releaseConnection(connection);
    }
  }
}

/** SQLite `:memory:`: the ORM's one connection, with each statement size prepared once per connection. */
function sqliteSharedQuery(): PooledQuery {
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

/** PostgreSQL: one named prepared statement taking the batch's token hashes as an array. */
const postgresQuery: PooledQuery = async (borrowed, tokenHashes) => {
  const result = await (borrowed as PostgresClient).query({
    name: POSTGRES_STATEMENT_NAME,
    text: POSTGRES_LOOKUP,
    values: [tokenHashes],
  });
  return result.rows;
};

/**
 * Reads sessions for authentication. Every authenticated request pays for this read, so it skips the ORM's entity
 * machinery and knex's query building (together about five times the cost of the query itself), runs prepared
 * statements on the driver, and answers the lookups of one turn of the event loop with one query; writes stay in
 * SessionRepository. Tests check that both agree on expiry, revocation and deletion, on SQLite files, SQLite
 * `:memory:` and PostgreSQL (tests/integration/session-store.test.ts).
 */
export class SessionStore {
  private reader: Reader | null = null;

  constructor(private readonly connection: AbstractSqlConnection) {}

  /** The session with this token hash and its user, or null when there is none. Expiry is the caller's call. */
  async findByTokenHash(tokenHash: string): Promise<SessionRecord | null> {
    if (this.reader?.broken === true) {
      // The file could not be opened (removed, unmounted): that request got the error (503); try again now.
      void this.reader.close().catch(() => undefined);
      this.reader = null;
    }
    this.reader ??= this.openReader();
    const row = await this.reader.find(tokenHash);
    return row === undefined ? null : toRecord(row);
  }

  /** Closes the read connection, if this store opened one. Call before or with the ORM's close. */
  async close(): Promise<void> {
    const reader = this.reader;
    this.reader = null;
    await reader?.close();
  }

  private openReader(): Reader {
    // knex types its client as `any`; KnexClientInternals names the few members used here.
    const client = this.connection.getKnex().client as unknown as KnexClientInternals;
    if (client.dialect === 'postgresql') return new PooledReader(client, BATCHING.postgres, postgresQuery);
    if (client.dialect !== 'sqlite3') throw new Error(`no session reader for ${client.dialect}`);
    const filename = client.connectionSettings.filename;
    if (filename === undefined || filename === '' || filename.startsWith(':memory:')) {
      return new PooledReader(client, BATCHING.sqliteShared, sqliteSharedQuery());
    }
    return new SqliteFileReader(client.driver as SqliteDriver, filename);
  }
}
