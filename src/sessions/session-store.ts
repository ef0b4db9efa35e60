// The hot path: the one place that reads cookie → session → user, with prepared statements and no ORM or query builder.
import type { AbstractSqlConnection } from '@mikro-orm/knex';
import { PooledReader, postgresQuery, type KnexClientInternals } from './readers/pooled';
import { BATCHING, type Reader, type SessionRow } from './readers/reader';
import { SqliteFileReader, sqliteSharedQuery, type SqliteDriver } from './readers/sqlite';

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

/** SQLite hands dates back as epoch milliseconds; PostgreSQL (through MikroORM's type parsers) as text. */
function toDate(value: unknown): Date {
  if (value instanceof Date) return value;
  if (typeof value === 'number') return new Date(value);
  if (typeof value === 'string') return new Date(/^\d+$/.test(value) ? Number(value) : value);
  throw new TypeError(`not a date: ${typeof value}`);
}

/** A row as the service reads it. */
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
