// The hot path: the one place that reads cookie → session → user, with a single indexed query and no ORM entities.
import type { Connection } from '@mikro-orm/core';

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
  session_id: number;
  session_created_at: unknown;
  expires_at: unknown;
  last_seen_at: unknown;
  user_id: number;
  email: string;
  user_created_at: unknown;
}

// The unique index on token_hash makes this one index probe plus one primary-key join.
const FIND_BY_TOKEN_HASH_SQL = `select s.id as session_id, s.created_at as session_created_at, s.expires_at,
  s.last_seen_at, u.id as user_id, u.email, u.created_at as user_created_at
  from sessions s join users u on u.id = s.user_id where s.token_hash = ?`;

/** SQLite hands dates back as epoch milliseconds; other drivers as Date. Accept both. */
function toDate(value: unknown): Date {
  if (value instanceof Date) return value;
  if (typeof value === 'number') return new Date(value);
  if (typeof value === 'string') return new Date(/^\d+$/.test(value) ? Number(value) : value);
  throw new TypeError(`not a date: ${typeof value}`);
}

/**
 * Reads sessions for authentication. Every authenticated request pays for this read, so it skips the
 * ORM's entity machinery (identity map, hydration, populate), which costs about ten times a plain query
 * here; writes stay in SessionRepository. Tests check that both agree on expiry, revocation and deletion.
 */
export class SessionStore {
  constructor(private readonly connection: Connection) {}

  /** The session with this token hash and its user, or null when there is none. Expiry is the caller's call. */
  async findByTokenHash(tokenHash: string): Promise<SessionRecord | null> {
    // execute() types its answer loosely; the SQL above fixes the row's shape.
    const row = (await this.connection.execute(FIND_BY_TOKEN_HASH_SQL, [tokenHash], 'get')) as
      SessionRow | undefined;
    if (row === undefined || row === null) return null;
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
}
