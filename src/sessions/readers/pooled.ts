// Session readers on connections borrowed from knex's pool: PostgreSQL, and SQLite :memory: (one shared connection).
import type { TurnBatcher } from '../../shared';
import { sessionBatcher, POSTGRES_LOOKUP, type Reader, type SessionRow } from './reader';

/** knex's Client internals (typed `any` by knex): its dialect, driver module, settings and pool. */
export interface KnexClientInternals {
  readonly dialect: string;
  readonly driver: unknown;
  readonly connectionSettings: { readonly filename?: string };
  acquireConnection(): Promise<unknown>;
  releaseConnection(connection: unknown): Promise<void>;
}

/** Runs one batch's lookup on a connection borrowed from knex's pool. */
export type PooledQuery = (connection: unknown, tokenHashes: string[]) => Promise<SessionRow[]>;

/**
 * A reader on connections borrowed from knex's pool (the same pool, limits and timeouts as the ORM's queries):
 * PostgreSQL, and SQLite `:memory:`, where a second connection would open a second, empty database. The
 * statements die with their connections, which the ORM closes, so there is nothing of its own to close.
 */
export class PooledReader implements Reader {
  private readonly batcher: TurnBatcher<SessionRow>;
  readonly broken = false;

  constructor(
    private readonly client: KnexClientInternals,
    limits: { readonly maxBatch: number; readonly maxInFlight: number },
    private readonly run: PooledQuery,
  ) {
    this.batcher = sessionBatcher((hashes) => this.query(hashes), limits);
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

/**
 * The name of the PostgreSQL prepared statement. PostgreSQL plans a named statement once per connection and reuses
 * the plan, where an unnamed one is parsed and planned again on every request.
 */
const POSTGRES_STATEMENT_NAME = 'auth_sessions_by_token_hashes';

interface PostgresClient {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: SessionRow[] }>;
}
/** PostgreSQL: one named prepared statement taking the batch's token hashes as an array. */
export const postgresQuery: PooledQuery = async (borrowed, tokenHashes) => {
  const result = await (borrowed as PostgresClient).query({
    name: POSTGRES_STATEMENT_NAME,
    text: POSTGRES_LOOKUP,
    values: [tokenHashes],
  });
  return result.rows;
};
