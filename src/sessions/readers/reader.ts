// What every session reader shares: the row the lookup returns, its SQL, how each database batches, the reader's shape.
import { TurnBatcher, type BatchLimits } from '../../shared';

/** One row of the session lookup, as the drivers hand it back. */
export interface SessionRow {
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
export function sqliteLookup(size: number): string {
  return `${FIND_BY_TOKEN_HASHES} in (${Array.from({ length: size }, () => '?').join(', ')})`;
}

/** The PostgreSQL lookup of any number of tokens, given as one array parameter (so one statement serves all). */
export const POSTGRES_LOOKUP = `${FIND_BY_TOKEN_HASHES} = any($1)`;

/**
 * SQLite statement sizes: a batch goes out as the smallest one that holds it, the rest of its parameters NULL, so a
 * lone lookup probes the index once, and a full batch does not need a statement per possible size.
 */
export const SQLITE_BATCH_SIZES = [1, 4, 16] as const;

/** How many lookups and concurrent batches each database takes, see TurnBatcher. */
export const BATCHING = {
  /** A file's own read connection: queries on one connection run one after another anyway. */
  sqliteFile: { maxBatch: SQLITE_BATCH_SIZES[SQLITE_BATCH_SIZES.length - 1], maxInFlight: 2 },
  /** `:memory:`: the ORM's single connection, shared with its writes. */
  sqliteShared: { maxBatch: SQLITE_BATCH_SIZES[SQLITE_BATCH_SIZES.length - 1], maxInFlight: 1 },
  /** A few of knex's pooled connections (10 by default), leaving the rest to the ORM. */
  postgres: { maxBatch: 64, maxInFlight: 3 },
} as const;

/** How one kind of database runs the lookup: the only part that differs between them. */
export interface Reader {
  find(tokenHash: string): Promise<SessionRow | undefined>;
  close(): Promise<void>;
  /** True once the reader can never answer again (its file failed to open): the store then opens a new one. */
  readonly broken: boolean;
}

/** A batcher of session lookups by token hash, for a reader that runs `query` per batch. */
export function sessionBatcher(
  query: (tokenHashes: string[]) => Promise<readonly SessionRow[]>,
  limits: BatchLimits,
): TurnBatcher<SessionRow> {
  return new TurnBatcher(query, (row) => row.token_hash, limits);
}
