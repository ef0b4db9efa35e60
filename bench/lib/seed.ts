// Seeding: accounts and sessions made by the service's own API, then multiplied by copying session rows.
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import sqlite3 from 'sqlite3';
import { generateToken, hashToken } from '../../src/shared';
import { BENCH_PASSWORD } from './workload';

/** As SessionRepository makes them: 16 random bytes. */
const PUBLIC_ID_BYTES = 16;

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/**
 * Registers `count` accounts and logs each in once through the service's HTTP API, `parallel` at a time; returns
 * the session tokens (cookie values).
 */
export async function seedAccounts(
  baseUrl: string,
  count: number,
  emailFor: (n: number) => string,
  parallel: number,
): Promise<string[]> {
  const tokens: string[] = [];
  let next = 0;
  const post = async (path: string, fields: Record<string, string>): Promise<Response> => {
    const response = await fetch(`${baseUrl}${path}`, {
      method: 'POST',
      headers: FORM,
      body: new URLSearchParams(fields).toString(),
    });
    if (response.status !== 200) {
      throw new Error(`seeding: ${path} answered ${response.status}: ${await response.text()}`);
    }
    return response;
  };
  const worker = async (): Promise<void> => {
    while (next < count) {
      const email = emailFor(next++);
      await (await post('/users', { email, password: BENCH_PASSWORD })).arrayBuffer();
      const answer = await post('/sessions', { email, password: BENCH_PASSWORD });
      await answer.arrayBuffer();
      const cookie = answer.headers.getSetCookie().find((c) => c.startsWith('session_id='));
      const token = cookie?.slice('session_id='.length).split(';')[0];
      if (token === undefined || token === '') throw new Error('seeding: login set no session cookie');
      tokens.push(token);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return tokens;
}

/** The little a copy needs from a database: queries, in its own placeholder style. */
interface SeedDatabase {
  /** The placeholder of the n-th parameter (1-based). */
  placeholder(n: number): string;
  query(sql: string, parameters: readonly unknown[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

function openSqlite(path: string): Promise<SeedDatabase> {
  return new Promise((resolve, reject) => {
    const database = new sqlite3.Database(path, sqlite3.OPEN_READWRITE, (error) => {
      if (error) return reject(error);
      resolve({
        placeholder: () => '?',
        query: (sql, parameters) =>
          new Promise((done, fail) =>
            database.all(sql, parameters, (e: Error | null, rows: Record<string, unknown>[]) =>
              e ? fail(e) : done(rows),
            ),
          ),
        close: () => new Promise((done, fail) => database.close((e) => (e ? fail(e) : done()))),
      });
    });
  });
}

async function openPostgres(url: string): Promise<SeedDatabase> {
  const client = new Client({ connectionString: url });
  await client.connect();
  return {
    placeholder: (n) => `$${n}`,
    query: async (sql, parameters) =>
      (await client.query<Record<string, unknown>>(sql, [...parameters])).rows,
    close: () => client.end(),
  };
}

/** The columns of the sessions table, in order. */
async function sessionColumns(database: SeedDatabase, dialect: 'sqlite' | 'postgresql'): Promise<string[]> {
  const rows =
    dialect === 'sqlite'
      ? await database.query("select name from pragma_table_info('sessions')", [])
      : await database.query(
          "select column_name as name from information_schema.columns where table_name = 'sessions' " +
            'and table_schema = current_schema() order by ordinal_position',
          [],
        );
  return rows.map((row) => String(row.name));
}

/**
 * Adds sessions until there are `total`, each a copy of one of the seeded sessions (same user, same dates) with a
 * new token hash and public id, all in one transaction; returns every token, the seeded ones first. Logging in a
 * thousand times through the API would cost a few thousand fsynced transactions: half a minute on a busy disk.
 * Only `id`, `token_hash` and `public_id` are known here; every other column is copied as the service wrote it.
 */
export async function multiplySessions(
  dialect: 'sqlite' | 'postgresql',
  location: string,
  seededTokens: readonly string[],
  total: number,
): Promise<string[]> {
  const database = dialect === 'sqlite' ? await openSqlite(location) : await openPostgres(location);
  try {
    const columns = (await sessionColumns(database, dialect)).filter((c) => c !== 'id');
    const sourceIds: unknown[] = [];
    for (const token of seededTokens) {
      const rows = await database.query(
        `select id from sessions where token_hash = ${database.placeholder(1)}`,
        [hashToken(token)],
      );
      if (rows[0] === undefined) throw new Error('seeding: a seeded session is missing');
      sourceIds.push(rows[0].id);
    }
    const tokens = [...seededTokens];
    await database.query('begin', []);
    while (tokens.length < total) {
      const token = generateToken();
      const values: unknown[] = [];
      const select = columns.map((column) => {
        if (column === 'token_hash') values.push(hashToken(token));
        else if (column === 'public_id') values.push(randomBytes(PUBLIC_ID_BYTES).toString('base64url'));
        else return column;
        return database.placeholder(values.length);
      });
      values.push(sourceIds[tokens.length % sourceIds.length]);
      await database.query(
        `insert into sessions (${columns.join(', ')}) select ${select.join(', ')} from sessions ` +
          `where id = ${database.placeholder(values.length)}`,
        values,
      );
      tokens.push(token);
    }
    await database.query('commit', []);
    return tokens;
  } finally {
    await database.close();
  }
}
