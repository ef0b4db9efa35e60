// The ceiling for REST GET /profile: Fastify with one prepared sqlite3 statement; no ORM, no GraphQL, no logging.
import { createHash } from 'node:crypto';
import Fastify from 'fastify';
import { parse } from 'cookie';
import sqlite3 from 'sqlite3';

/**
 * The same join as src/sessions/session-store.ts (one probe of the unique token_hash index, then users by primary key),
 * one token per statement run, as the issue defines this baseline; the service batches the lookups of a turn.
 */
const LOOKUP_SQL = `select s.expires_at, u.email from sessions s join users u on u.id = s.user_id
  where s.token_hash = ?`;

interface Row {
  expires_at: number;
  email: string;
}

const databasePath = process.env.BENCH_SQLITE_PATH;
if (databasePath === undefined) throw new Error('BENCH_SQLITE_PATH is required');
// Read-only: the service's own connection set WAL mode in the file, so this reader never blocks on writers.
const database = new sqlite3.Database(databasePath, sqlite3.OPEN_READONLY);
const lookup = database.prepare(LOOKUP_SQL);

function findSession(tokenHash: string): Promise<Row | undefined> {
  return new Promise((resolve, reject) => {
    lookup.get(tokenHash, (error: Error | null, row: Row | undefined) =>
      error ? reject(error) : resolve(row),
    );
  });
}

const app = Fastify({ logger: false });
app.get('/healthz', () => ({ status: 'ok' }));
app.get('/profile', async (request, reply) => {
  const token = parse(request.headers.cookie ?? '').session_id;
  const row =
    token === undefined ? undefined : await findSession(createHash('sha256').update(token).digest('hex'));
  if (row === undefined || row.expires_at <= Date.now()) {
    return reply.code(403).send({ message: 'no valid session' });
  }
  return { email: row.email };
});

app
  .listen({ port: Number(process.env.PORT), host: process.env.HOST ?? '127.0.0.1' })
  .catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
process.on('SIGTERM', () => {
  void app.close().then(() => database.close(() => process.exit(0)));
});
