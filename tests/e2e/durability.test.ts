// Durability end to end, on SQLite and PostgreSQL: kill -9 mid-registration, and SIGTERM under load.
// @needs postgres: left out of a run without PostgreSQL (TEST_DATABASE_URL, or the local server), with a line saying so (jest.config.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import { Client } from 'pg';
import { Database, OPEN_READWRITE } from 'sqlite3';
import {
  createDatabase,
  dropDatabase,
  newRunPrefix,
  postgresServerUrl,
  withDatabase,
} from '../helpers/postgres';
import { formPost, killHard, probeStatus, startServer, type ServerProcess } from '../helpers/server-process';

/** A password every policy accepts for the emails used here (none of their local parts is in it). */
const PASSWORD = 'sunlit-harbour-42';
/** src/main.ts's SHUTDOWN_GRACE_MS: after it, the process exits 1 whatever is still running. */
const SHUTDOWN_GRACE_MS = 10_000;

/** Concurrent keep-alive clients registering during the crash test, and how long they run before kill -9. */
const CRASH_CLIENTS = 8;
const KILL_AFTER_MS = 1500;
/** Concurrent clients during the SIGTERM test, and how long they run before it. */
const LOAD_CLIENTS = 20;
const LOAD_MS = 500;
/** What one HTTP exchange came to: a status and parsed JSON body, or the reason it failed. */
type Outcome = { readonly status: number; readonly body: unknown } | { readonly error: string };

/** One request of a stream: what it is checked against, and its outcome once it has one. */
interface Tracked<T> {
  readonly subject: T;
  outcome?: Outcome;
}

/** A database of its own for one test: where servers connect, raw reads for the checks, and removal. */
interface ScratchDatabase {
  /** The DATABASE_URL to start servers with. */
  readonly databaseUrl: string;
  /** Runs one read-only statement and returns its rows. */
  query(sql: string): Promise<Record<string, unknown>[]>;
  /** Deletes the database. */
  remove(): Promise<void>;
}

/** A SQLite file in a fresh temporary directory, read with the same sqlite3 driver the server uses. */
function scratchSqlite(): Promise<ScratchDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'auth-durability-'));
  const file = join(dir, 'auth.sqlite');
  return Promise.resolve({
    databaseUrl: file,
    query: (sql) =>
      new Promise((resolve, reject) => {
        const db = new Database(file, OPEN_READWRITE, (error) => {
          if (error !== null) reject(error);
        });
        db.all(sql, (error: Error | null, rows: Record<string, unknown>[]) => {
          db.close();
          if (error === null) resolve(rows);
          else reject(error);
        });
      }),
    remove: () => {
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    },
  });
}

/** An empty PostgreSQL database (the server migrates it at start), dropped by `remove`. */
async function scratchPostgres(): Promise<ScratchDatabase> {
  const server = postgresServerUrl();
  const name = `${newRunPrefix()}_durability`;
  await createDatabase(server, name);
  const databaseUrl = withDatabase(server, name);
  return {
    databaseUrl,
    query: async (sql) => {
      const client = new Client({ connectionString: databaseUrl });
      await client.connect();
      try {
        return (await client.query<Record<string, unknown>>(sql)).rows;
      } finally {
        await client.end();
      }
    },
    remove: () => dropDatabase(server, name),
  };
}

/** A property of an object of any realm (fetch's errors come from outside jest's sandbox), or undefined. */
function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined;
}

/** Why a request failed, as its most specific code (ECONNRESET, UND_ERR_SOCKET, ...) or message. */
function failureReason(error: unknown): string {
  const cause = field(error, 'cause');
  const reason =
    field(cause, 'code') ?? field(error, 'code') ?? field(cause, 'message') ?? field(error, 'message');
  return typeof reason === 'string' ? reason : String(error);
}

/** A response body as JSON, or as the text itself when it is not JSON, so an assertion shows it either way. */
function parseBody(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Sends one request and reads the whole answer; a connection that fails or is cut becomes `{ error }`. */
async function send(url: string, init?: RequestInit): Promise<Outcome> {
  try {
    const response = await fetch(url, init);
    return { status: response.status, body: parseBody(await response.text()) };
  } catch (error) {
    return { error: failureReason(error) };
  }
}

/** Runs `work` on every item, at most `limit` at a time; the results come back in the items' order. */
async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

/** Items sorted by code unit, the same on both sides of a comparison (SQL collations differ between dialects). */
function sorted(items: Iterable<string>): string[] {
  return [...items].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * A POST on a connection of its own whose headers and first half of body are sent now and the rest only on
 * `finish()`: a request that is certainly in flight, for as long as the test wants.
 */
function halfSentPost(
  port: number,
  path: string,
  fields: Readonly<Record<string, string>>,
): { finish(): void; answer: Promise<Outcome>; settled(): boolean } {
  const body = new URLSearchParams(fields).toString();
  const half = Math.floor(body.length / 2);
  let done = false;
  const outgoing = request({
    host: '127.0.0.1',
    port,
    path,
    method: 'POST',
    agent: false,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'content-length': String(Buffer.byteLength(body)),
    },
  });
  const answer = new Promise<Outcome>((resolve) => {
    outgoing.once('error', (error) => resolve({ error: failureReason(error) }));
    outgoing.once('response', (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.once('error', (error) => resolve({ error: failureReason(error) }));
      response.once('end', () => resolve({ status: response.statusCode ?? 0, body: parseBody(text) }));
    });
  }).finally(() => {
    done = true;
  });
  outgoing.write(body.slice(0, half));
  return { finish: () => outgoing.end(body.slice(half)), answer, settled: () => done };
}

/**
 * Tries new TCP connections to the port every few milliseconds until one is refused; returns the milliseconds
 * from `since` to the refusal, or null when none was refused within `timeoutMs`.
 */
async function msUntilRefused(port: number, since: number, timeoutMs: number): Promise<number | null> {
  while (performance.now() - since < timeoutMs) {
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
    });
    if (refused) return performance.now() - since;
    await sleep(5);
  }
  return null;
}

describe.each([
  { dialect: 'SQLite', open: scratchSqlite },
  { dialect: 'PostgreSQL', open: scratchPostgres },
])('on $dialect', ({ open }) => {
  let database: ScratchDatabase;
  const servers: ServerProcess[] = [];

  /** Starts the built server on this test's database, fast hashing, no limits and no logs. */
  async function start(): Promise<ServerProcess> {
    const server = await startServer({
      DATABASE_URL: database.databaseUrl,
      BCRYPT_ROUNDS: '4',
      RATE_LIMIT: 'off',
      LOG_LEVEL: 'silent',
      // The default queue (4 per CPU) sheds part of 20 concurrent hashes with 503 on a small machine; shedding
      // has its own tests, and here every request must get its normal answer.
      BCRYPT_MAX_QUEUE: '100',
    });
    servers.push(server);
    return server;
  }

  beforeEach(async () => {
    database = await open();
  });

  afterEach(async () => {
    await Promise.all(servers.splice(0).map(killHard));
    await database.remove();
  });

  it('keeps every answered registration through kill -9 mid-stream, and leaves no account half made', async () => {
    const first = await start();
    const attempts: Tracked<string>[] = [];
    let killed = false;
    let counter = 0;
    const client = async (): Promise<void> => {
      while (!killed) {
        const attempt: Tracked<string> = { subject: `crash-${counter++}@example.com` };
        attempts.push(attempt);
        attempt.outcome = await send(
          `${first.baseUrl}/users`,
          formPost({ email: attempt.subject, password: PASSWORD }),
        );
      }
    };
    const clients = Array.from({ length: CRASH_CLIENTS }, client);
    await sleep(KILL_AFTER_MS);
    killed = true;
    first.child.kill('SIGKILL');
    await Promise.all(clients);
    expect(await first.ended).toEqual({ code: null, signal: 'SIGKILL' });

    const answered = attempts.filter(
      (attempt) => attempt.outcome !== undefined && 'status' in attempt.outcome,
    );
    const cut = attempts.filter((attempt) => attempt.outcome !== undefined && 'error' in attempt.outcome);
    expect(answered.length + cut.length).toBe(attempts.length);
    // Every answer before the kill is a success: nothing failed for another reason than the kill.
    expect(answered.map((attempt) => attempt.outcome)).toEqual(
      answered.map(({ subject: email }) => ({ status: 200, body: { email, message: 'user created' } })),
    );
    // The kill came mid-stream: some registrations were answered, some were in flight.
    expect(answered.length).toBeGreaterThan(0);
    expect(cut.length).toBeGreaterThan(0);

    const second = await start();
    expect(await send(`${second.baseUrl}/readyz`)).toEqual({ status: 200, body: { status: 'ready' } });
    const logins = await mapLimited(attempts, CRASH_CLIENTS, ({ subject: email }) =>
      send(`${second.baseUrl}/sessions`, formPost({ email, password: PASSWORD })),
    );
    const loggedIn = (email: string): Outcome => ({ status: 200, body: { email, message: 'logged in' } });
    const unknown: Outcome = { status: 401, body: { message: 'invalid email or password' } };
    const acknowledged = new Set(answered.map(({ subject }) => subject));
    const usable: string[] = [];
    const wrong: { email: string; answered: boolean; login: Outcome | undefined }[] = [];
    attempts.forEach(({ subject: email }, index) => {
      const login = logins[index];
      if (isDeepStrictEqual(login, loggedIn(email))) usable.push(email);
      // An answered registration must log in; a cut one either logs in or never existed: nothing else.
      else if (acknowledged.has(email) || !isDeepStrictEqual(login, unknown))
        wrong.push({ email, answered: acknowledged.has(email), login });
    });
    expect(wrong).toEqual([]);

    second.child.kill('SIGTERM');
    expect(await second.ended).toEqual({ code: 0, signal: null });

    // Every row in the table is an account that logs in: no row was left that cannot.
    const users = await database.query('select email from users');
    expect(sorted(users.map((row) => String(row.email)))).toEqual(sorted(usable));
    // The REGISTERED event is written after the account and before the answer: every answered registration has
    // exactly one, and no event names an account that does not exist.
    const events = await database.query("select email from security_events where type = 'REGISTERED'");
    const eventEmails = sorted(events.map((row) => String(row.email)));
    expect(eventEmails).toEqual(sorted(new Set(eventEmails)));
    expect(eventEmails.filter((email) => !usable.includes(email))).toEqual([]);
    expect([...acknowledged].filter((email) => !eventEmails.includes(email))).toEqual([]);
  });

  it('on SIGTERM under load, finishes every request in flight, refuses new connections, and exits 0', async () => {
    const server = await start();
    const url = (path: string): string => `${server.baseUrl}${path}`;
    const seed = 'seed@example.com';
    expect(await send(url('/users'), formPost({ email: seed, password: PASSWORD }))).toEqual({
      status: 200,
      body: { email: seed, message: 'user created' },
    });
    const seedLogin = await fetch(url('/sessions'), formPost({ email: seed, password: PASSWORD }));
    expect(seedLogin.status).toBe(200);
    const cookie = (seedLogin.headers.get('set-cookie') ?? '').split(';')[0];
    expect(cookie).toMatch(/^session_id=/);

    // Held open until new connections are refused: the server must keep serving it while it refuses them.
    const slowEmail = 'slow-drain@example.com';
    const slow = halfSentPost(server.port, '/users', { email: slowEmail, password: PASSWORD });

    /** One request of the mix and the answer it must get: 200, 401 or 403, each with its exact body. */
    const planned = (n: number): { path: string; init: RequestInit; expected: Outcome } => {
      switch (n % 5) {
        case 0: {
          const email = `drain-${n}@example.com`;
          return {
            path: '/users',
            init: formPost({ email, password: PASSWORD }),
            expected: { status: 200, body: { email, message: 'user created' } },
          };
        }
        case 1:
          return {
            path: '/sessions',
            init: formPost({ email: seed, password: PASSWORD }),
            expected: { status: 200, body: { email: seed, message: 'logged in' } },
          };
        case 2:
          return {
            path: '/sessions',
            init: formPost({ email: seed, password: 'wrong-harbour-43' }),
            expected: { status: 401, body: { message: 'invalid email or password' } },
          };
        case 3:
          return {
            path: '/profile',
            init: { headers: { cookie } },
            expected: { status: 200, body: { email: seed } },
          };
        default:
          return {
            path: '/profile',
            init: {},
            expected: { status: 403, body: { message: 'no valid session' } },
          };
      }
    };
    const requests: Tracked<Outcome>[] = [];
    let launching = true;
    let counter = 0;
    const client = async (): Promise<void> => {
      while (launching) {
        const { path, init, expected } = planned(counter++);
        const tracked: Tracked<Outcome> = { subject: expected };
        requests.push(tracked);
        tracked.outcome = await send(url(path), init);
      }
    };
    const clients = Array.from({ length: LOAD_CLIENTS }, client);
    await sleep(LOAD_MS);
    launching = false;
    // A request started just before SIGTERM whose bytes reach the server after it is not in flight: Fastify
    // answers it 503 with `Connection: close`. So the clients stop starting requests, fetch gets a moment to
    // write the last ones, and a probe sent after all of them must be answered before the signal: the server reads
    // every ready socket in one turn of its event loop, so once it has answered the probe it has read and routed
    // every earlier request too. Requests take far longer than this under the load, so most are still running.
    await sleep(5);
    expect(await probeStatus(server.port, '/healthz')).toBe(200);
    const inFlight = requests.filter((tracked) => tracked.outcome === undefined).length;
    const sigtermAt = performance.now();
    server.child.kill('SIGTERM');

    const refusedAfterMs = await msUntilRefused(server.port, sigtermAt, 2000);
    const slowPendingWhenRefused = !slow.settled();
    slow.finish();
    await Promise.all(clients);
    const end = await server.ended;
    const exitedAfterMs = performance.now() - sigtermAt;

    // Every request started before SIGTERM got its normal answer: none was refused, reset or answered 503.
    expect(requests.map(({ outcome }) => outcome)).toEqual(requests.map(({ subject }) => subject));
    // SIGTERM came under load: requests of the mix were running, and the half-sent one was still arriving.
    expect(inFlight).toBeGreaterThan(0);
    expect(slowPendingWhenRefused).toBe(true);
    expect(await slow.answer).toEqual({ status: 200, body: { email: slowEmail, message: 'user created' } });
    // New connections were refused soon after the signal, while a request was still being served.
    expect(refusedAfterMs).not.toBeNull();
    expect(refusedAfterMs).toBeLessThan(1000);
    expect(end).toEqual({ code: 0, signal: null });
    expect(exitedAfterMs).toBeLessThan(SHUTDOWN_GRACE_MS);
  });

  it('tells a keep-alive client whose request runs at SIGTERM to close, leaves what it pipelined unread, exits', async () => {
    const server = await start();
    const email = 'keep-alive@example.com';
    const body = new URLSearchParams({ email, password: PASSWORD }).toString();
    const half = Math.floor(body.length / 2);
    const socket = connect({ host: '127.0.0.1', port: server.port });
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(
      'POST /users HTTP/1.1\r\nHost: auth\r\nContent-Type: application/x-www-form-urlencoded\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, half)}`,
    );
    // The request has started (its headers are read) when the probe on another connection is answered.
    expect(await probeStatus(server.port, '/healthz')).toBe(200);
    const sigtermAt = performance.now();
    server.child.kill('SIGTERM');
    expect(await msUntilRefused(server.port, sigtermAt, 2000)).not.toBeNull();
    // The rest of the body and, pipelined behind it, a second request on the same connection.
    socket.write(`${body.slice(half)}GET /profile HTTP/1.1\r\nHost: auth\r\n\r\n`);
    await closed;
    const end = await server.ended;

    // One answer, complete and normal, that tells the client to drop the connection; the server then closed it
    // without reading the pipelined request, which the client knows is unanswered and may resend elsewhere.
    const answers = received.split(/(?=HTTP\/1\.1 )/);
    expect(answers).toHaveLength(1);
    expect(answers[0]).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(answers[0]).toMatch(/\r\nconnection: close\r\n/i);
    expect(answers[0]?.endsWith(JSON.stringify({ email, message: 'user created' }))).toBe(true);
    expect(end).toEqual({ code: 0, signal: null });
    expect(performance.now() - sigtermAt).toBeLessThan(SHUTDOWN_GRACE_MS);
  });
});
