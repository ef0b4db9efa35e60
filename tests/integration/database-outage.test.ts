// A PostgreSQL outage, made by cutting a TCP proxy: quick 503s (never a 500 or a hang), and recovery with no restart.
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import {
  ConnectionException,
  DriverException,
  SyntaxErrorException,
  UniqueConstraintViolationException,
} from '@mikro-orm/core';
import type { LightMyRequestResponse } from 'fastify';
import { GraphQLError } from 'graphql';
import { isDatabaseUnavailable } from '../../src/database';
import { AuthError, ERROR_CATALOGUE } from '../../src/errors';
import { publicError } from '../../src/operations';
import { classifyError, formatError } from '../../src/graphql/format-error';
import { errorCodes, graphql, LOGIN, type GraphQLAnswer } from '../helpers/graphql';
import { sendEmpty, sendForm, sessionCookieOf, tokenOf } from '../helpers/http';
import {
  createDatabase,
  dropDatabase,
  freshDatabase,
  LOCAL_POSTGRES_URL,
  newRunPrefix,
  testDatabaseUrl,
  withDatabase,
} from '../helpers/postgres';
import { availableServerUrl, POSTGRES } from '../helpers/servers';
import { createTestApp, type TestApp } from '../helpers/test-app';

/**
 * Generous on purpose: a refused or dropped connection fails the request in milliseconds, and what this guards
 * against is a hang, not slowness on a loaded CI machine. It is also under the app's own last resort, the 30 s
 * handler timeout (HANDLER_TIMEOUT_SECONDS), which would answer SERVICE_BUSY instead: a request that only ended
 * there fails here twice over. (A server that accepts and never answers is bounded by nothing shorter than that
 * handler timeout until src/database.ts sets pg's connectionTimeoutMillis and knex's acquireTimeoutMillis.)
 */
const ANSWER_WITHIN_MS = 15_000;

/** How long the service may take to notice the database is back: new connections are made on the next request. */
const RECOVERY_WITHIN_MS = 10_000;

const EMAIL = 'outage@example.com';
const PASSWORD = 'correct horse battery staple';
const UNAVAILABLE = ERROR_CATALOGUE.SERVICE_UNAVAILABLE.message;

/**
 * The server to run against: TEST_DATABASE_URL's when set, else the local one if something listens there. Without
 * either, `npm test` (which needs no service) reports the outage tests as skipped and still runs the others here;
 * under CI, or with TEST_DATABASE_URL set, a missing server fails the run instead (see servers.ts).
 */
const SERVER = availableServerUrl(POSTGRES);

/**
 * This test's own database: with TEST_DATABASE_URL a copy of the run's migrated template, as every test app gets;
 * without it, an empty database on the local server, which the app migrates as it starts (through the proxy).
 */
async function ownDatabase(server: string): Promise<{ url: string; drop: () => Promise<void> }> {
  if (testDatabaseUrl() !== undefined) return freshDatabase(server);
  const name = `${newRunPrefix()}_outage`;
  await createDatabase(server, name);
  return { url: withDatabase(server, name), drop: () => dropDatabase(server, name) };
}

/** How the proxy makes the database unreachable. */
type CutMode = 'refuse' | 'drop' | 'freeze';

/**
 * A TCP proxy between the app and PostgreSQL. `cut` destroys every piped connection (the app's pooled ones
 * included) and then either stops listening (`refuse`: new connections get ECONNREFUSED, as from a stopped
 * server) or keeps accepting and drops each connection at once (`drop`: pg sees "Connection terminated
 * unexpectedly", as behind a load balancer with no healthy backend). `restore` pipes again, on the same port.
 */
class CuttableProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private dropping = false;
  private frozen = false;
  private port = 0;

  constructor(private readonly target: { host: string; port: number }) {
    this.server = createServer((client) => this.accept(client));
  }

  /** Starts listening on a free port of 127.0.0.1 and returns it. */
  async start(): Promise<number> {
    await this.listen(0);
    this.port = (this.server.address() as AddressInfo).port;
    return this.port;
  }

  async cut(mode: CutMode): Promise<void> {
    if (mode === 'freeze') {
      // Every connection stays open and nothing more goes through it, either way; new ones are accepted and get
      // no answer: a frozen host (SIGSTOP, a hung VM, a black-holing network) as the app sees it.
      this.frozen = true;
      for (const socket of this.sockets) socket.unpipe();
      return;
    }
    this.dropping = true;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (mode === 'refuse') await this.stopListening();
  }

  async restore(): Promise<void> {
    if (this.frozen) {
      // What was frozen mid-conversation cannot resume where it was: it is cut, as a thawed host's peers find.
      this.frozen = false;
      for (const socket of this.sockets) socket.destroy();
      this.sockets.clear();
    }
    this.dropping = false;
    if (!this.server.listening) await this.listen(this.port);
  }

  async close(): Promise<void> {
    this.dropping = true;
    for (const socket of this.sockets) socket.destroy();
    if (this.server.listening) await this.stopListening();
  }

  private accept(client: Socket): void {
    if (this.dropping) {
      client.destroy();
      return;
    }
    if (this.frozen) {
      this.sockets.add(client);
      client.on('error', () => undefined);
      client.on('close', () => this.sockets.delete(client));
      return;
    }
    const upstream = connect(this.target.port, this.target.host);
    for (const [socket, peer] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      this.sockets.add(socket);
      // Either side failing or closing ends the pair, as a real network cut ends both directions.
      socket.on('error', () => peer.destroy());
      socket.on('close', () => {
        this.sockets.delete(socket);
        peer.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  }

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  private stopListening(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** One JSON log line as pino writes it. */
interface LogLine {
  level: number;
  msg: string;
  reqId?: string;
  error?: { type?: string; code?: string; message?: string; stack?: string };
  res?: { statusCode?: number };
}

const PINO_ERROR_LEVEL = 50;

/** Runs one request, checks that it answered within the bound, and returns its answer and the log lines it wrote. */
async function timed<T>(app: TestApp, send: () => Promise<T>): Promise<{ answer: T; lines: LogLine[] }> {
  const before = app.logLines.length;
  const started = Date.now();
  const answer = await send();
  expect(Date.now() - started).toBeLessThan(ANSWER_WITHIN_MS);
  const lines = app.logLines.slice(before).map((line) => JSON.parse(line) as LogLine);
  return { answer, lines };
}

/**
 * The request's failure was logged exactly once, at error level, under the id of the request it belongs to (the
 * one line per request names it), scrubbed: no password, and no session token, in anything logged.
 */
function expectLoggedOnce(lines: LogLine[], secrets: string[]): void {
  const errors = lines.filter((line) => line.level >= PINO_ERROR_LEVEL);
  const completed = lines.filter((line) => line.msg === 'request completed');
  expect(errors).toHaveLength(1);
  expect(completed).toHaveLength(1);
  expect(errors[0]?.reqId).toEqual(expect.any(String));
  expect(errors[0]?.reqId).toBe(completed[0]?.reqId);
  // Not the message: errorForLog reads only Errors of its own realm, and under jest Node's socket errors are not.
  expect(errors[0]?.error).toEqual(expect.objectContaining({ type: expect.any(String) as unknown }));
  const logged = JSON.stringify(lines);
  for (const secret of secrets) expect(logged).not.toContain(secret);
}

/** A REST answer is the database-outage refusal: 503, the catalogue message alone, Retry-After 5. */
function expectUnavailable(request: string, response: LightMyRequestResponse): void {
  // The request is part of the compared value so that a failure says which one it was.
  expect({
    request,
    status: response.statusCode,
    body: response.json<unknown>(),
    retryAfter: response.headers['retry-after'],
  }).toEqual({ request, status: 503, body: { message: UNAVAILABLE }, retryAfter: '5' });
}

/** A GraphQL answer is the database-outage refusal: SERVICE_UNAVAILABLE with retryAfterSeconds 5, no stack. */
function expectGraphQLUnavailable(answer: GraphQLAnswer<unknown>): void {
  expect(errorCodes(answer)).toEqual(['SERVICE_UNAVAILABLE']);
  expect(answer.errors?.[0]).toEqual({
    message: UNAVAILABLE,
    path: ['login'],
    locations: expect.any(Array) as unknown,
    extensions: { code: 'SERVICE_UNAVAILABLE', retryAfterSeconds: 5 },
  });
  expect(answer.data).toBeNull();
}

/** GET a probe: its status and body. */
async function probe(app: TestApp, path: string): Promise<[number, unknown]> {
  const response = await sendEmpty(app, 'GET', path);
  return [response.statusCode, response.json()];
}

/** Polls /readyz until it says ready, or fails after RECOVERY_WITHIN_MS. Returns how long it took. */
async function waitUntilReady(app: TestApp): Promise<number> {
  const started = Date.now();
  for (;;) {
    const [status] = await probe(app, '/readyz');
    if (status === 200) return Date.now() - started;
    if (Date.now() - started > RECOVERY_WITHIN_MS) throw new Error(`/readyz still ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const describeOnPostgres = SERVER === null ? describe.skip : describe;
const where =
  SERVER === null
    ? `(skipped: TEST_DATABASE_URL unset and nothing listens at ${LOCAL_POSTGRES_URL})`
    : `(PostgreSQL ${testDatabaseUrl() === undefined ? 'at the local server' : 'from TEST_DATABASE_URL'})`;

describeOnPostgres(`database outage ${where}`, () => {
  let database: { url: string; drop: () => Promise<void> };
  let proxy: CuttableProxy;
  let proxiedUrl: string;
  let app: TestApp;
  // knex reports broken connections itself; those reports must reach our JSON logs, never the console.
  let consoleLog: jest.SpyInstance<void, unknown[]>;

  beforeEach(async () => {
    consoleLog = jest.spyOn(console, 'log');
    database = await ownDatabase(SERVER ?? LOCAL_POSTGRES_URL);
    const target = new URL(database.url);
    proxy = new CuttableProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const proxied = new URL(database.url);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(await proxy.start());
    // Rate limits on, as in production: on PostgreSQL their counters live in the database too, so login and
    // registration meet the outage there first.
    proxiedUrl = proxied.toString();
    app = await createTestApp({ DATABASE_URL: proxiedUrl, RATE_LIMIT: 'on' });
  });

  afterEach(async () => {
    await app.close();
    await proxy.close();
    await database.drop();
    const printed = consoleLog.mock.calls.map((call: unknown[]) => call.map(String).join(' '));
    consoleLog.mockRestore();
    expect(printed.filter((line) => line.includes('Connection Error'))).toEqual([]);
  });

  it.each<{ mode: CutMode; how: string }>([
    { mode: 'refuse', how: 'stops listening (connection refused)' },
    { mode: 'drop', how: 'accepts and drops every connection (connection terminated)' },
  ])(
    'when the proxy $how: REST 503 and GraphQL SERVICE_UNAVAILABLE within 15 s, /readyz 503, then recovery with no restart',
    async ({ mode }) => {
      // Up: register and log in through the proxy.
      expect((await sendForm(app, 'POST', '/users', { email: EMAIL, password: PASSWORD })).statusCode).toBe(
        200,
      );
      const login = await sendForm(app, 'POST', '/sessions', { email: EMAIL, password: PASSWORD });
      expect(login.statusCode).toBe(200);
      const cookie = sessionCookieOf(login);
      const secrets = [PASSWORD, tokenOf(cookie)];

      await proxy.cut(mode);

      // Down: every request that needs the database is refused as retryable, fast, and logged once.
      const refusals: [string, () => Promise<LightMyRequestResponse>][] = [
        ['POST /sessions', () => sendForm(app, 'POST', '/sessions', { email: EMAIL, password: PASSWORD })],
        ['GET /profile', () => sendEmpty(app, 'GET', '/profile', cookie)],
        [
          'POST /users',
          () => sendForm(app, 'POST', '/users', { email: 'new@example.com', password: PASSWORD }),
        ],
      ];
      for (const [request, send] of refusals) {
        const { answer, lines } = await timed(app, send);
        expectUnavailable(request, answer);
        expectLoggedOnce(lines, secrets);
      }
      const { answer: graphqlLogin, lines } = await timed(app, () =>
        graphql(app, LOGIN, { email: EMAIL, password: PASSWORD }),
      );
      expectGraphQLUnavailable(graphqlLogin);
      expectLoggedOnce(lines, secrets);

      // The process is alive (no restart wanted) but not ready (send no traffic).
      expect(await probe(app, '/healthz')).toEqual([200, { status: 'ok' }]);
      const readiness = await timed(app, () => probe(app, '/readyz'));
      expect(readiness.answer).toEqual([503, { status: 'not ready', reason: 'database unreachable' }]);

      // The driver's own reports of the broken connections went to the JSON log, as warnings.
      const driverWarnings = app.logLines.filter((line) => line.includes('database driver warning'));
      expect(driverWarnings.length).toBeGreaterThan(0);
      for (const line of driverWarnings) {
        expect(JSON.parse(line)).toMatchObject({
          level: 40,
          driver: expect.stringContaining('Connection Error') as unknown,
        });
      }

      // Back up: ready again within seconds, the session from before the outage still works, and so does login.
      await proxy.restore();
      await waitUntilReady(app);
      const profile = await sendEmpty(app, 'GET', '/profile', cookie);
      expect([profile.statusCode, profile.json()]).toEqual([200, { email: EMAIL }]);
      const again = await sendForm(app, 'POST', '/sessions', { email: EMAIL, password: PASSWORD });
      expect(again.statusCode).toBe(200);
      const graphqlAgain = await graphql<{ login: { email: string } }>(app, LOGIN, {
        email: EMAIL,
        password: PASSWORD,
      });
      expect(graphqlAgain.errors).toBeUndefined();
      expect(graphqlAgain.data?.login.email).toBe(EMAIL);
    },
  );

  it('when the database freezes (connections open, no answer): every request answers 503 by its deadline, then recovery', async () => {
    // An app of its own, with a short deadline, on the same proxied database.
    const frozenApp = await createTestApp({
      DATABASE_URL: proxiedUrl,
      RATE_LIMIT: 'on',
      HANDLER_TIMEOUT_SECONDS: '3',
    });
    try {
      expect(
        (await sendForm(frozenApp, 'POST', '/users', { email: EMAIL, password: PASSWORD })).statusCode,
      ).toBe(200);
      const login = await sendForm(frozenApp, 'POST', '/sessions', { email: EMAIL, password: PASSWORD });
      expect(login.statusCode).toBe(200);
      const cookie = sessionCookieOf(login);

      await proxy.cut('freeze');
      const requests: [string, () => Promise<LightMyRequestResponse>][] = [
        ['GET /profile', () => sendEmpty(frozenApp, 'GET', '/profile', cookie)],
        [
          'POST /sessions',
          () => sendForm(frozenApp, 'POST', '/sessions', { email: EMAIL, password: PASSWORD }),
        ],
        [
          'POST /users',
          () => sendForm(frozenApp, 'POST', '/users', { email: 'new@example.com', password: PASSWORD }),
        ],
        [
          'POST /graphql',
          async () => (await graphql(frozenApp, LOGIN, { email: EMAIL, password: PASSWORD })).response,
        ],
      ];
      // All at once, as traffic arrives: each is answered within the 3 s deadline (plus a second for a loaded
      // machine), 503 with Retry-After, whether its own dependency timeout or the deadline came first.
      const answers = await Promise.all(
        requests.map(async ([request, send]) => {
          const started = Date.now();
          const response = await send();
          return {
            request,
            status: response.statusCode,
            retryAfter: typeof response.headers['retry-after'],
            fast: Date.now() - started < 4000,
          };
        }),
      );
      expect(answers).toEqual(
        requests.map(([request]) => ({ request, status: 503, retryAfter: 'string', fast: true })),
      );
      expect(await probe(frozenApp, '/readyz')).toEqual([
        503,
        { status: 'not ready', reason: 'database timed out' },
      ]);

      await proxy.restore();
      await waitUntilReady(frozenApp);
      const profile = await sendEmpty(frozenApp, 'GET', '/profile', cookie);
      expect([profile.statusCode, profile.json()]).toEqual([200, { email: EMAIL }]);
    } finally {
      await frozenApp.close();
    }
  });
});

/** A driver error as pg, node:net or node-sqlite3 make it: a message and, usually, a code. */
function driverError(message: string, code?: string): Error {
  return Object.assign(new Error(message), code === undefined ? {} : { code });
}

// Runs everywhere, SQLite included: which errors count as an outage, and that every other one stays a 500.
describe('what counts as the database being unavailable', () => {
  it.each<[string, unknown]>([
    ['pg: connection refused', driverError('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')],
    ['pg: connection reset', driverError('read ECONNRESET', 'ECONNRESET')],
    [
      'PostgreSQL 57P01, wrapped by MikroORM',
      new DriverException(driverError('terminating connection due to administrator command', '57P01')),
    ],
    ['PostgreSQL 57P03', driverError('the database system is starting up', '57P03')],
    ['PostgreSQL 08006', driverError('connection failure', '08006')],
    ['PostgreSQL 08001', driverError('could not connect to server', '08001')],
    [
      'knex pool acquire timeout, wrapped by MikroORM',
      new DriverException(
        new Error(
          'Knex: Timeout acquiring a connection. The pool is probably full. Are you missing a .transacting(trx) call?',
        ),
      ),
    ],
    [
      'pg: socket closed mid-query, behind knex',
      driverError('select 1 - Connection terminated unexpectedly'),
    ],
    ['pg: connectionTimeoutMillis ran out', driverError('timeout expired')],
    ['SQLite busy past busy_timeout', driverError('SQLITE_BUSY: database is locked', 'SQLITE_BUSY')],
    ['SQLite disk full', driverError('SQLITE_FULL: database or disk is full', 'SQLITE_FULL')],
    [
      'SQLite file made read-only',
      driverError('SQLITE_READONLY: attempt to write a readonly database', 'SQLITE_READONLY'),
    ],
    ['SQLite I/O error', driverError('SQLITE_IOERR: disk I/O error', 'SQLITE_IOERR')],
    [
      'a PostgreSQL transaction whose backend was terminated',
      new Error('Transaction query already complete, run with DEBUG=knex:tx for more info'),
    ],
    [
      'SQLite cannot open the file',
      new ConnectionException(
        driverError('SQLITE_CANTOPEN: unable to open database file', 'SQLITE_CANTOPEN'),
      ),
    ],
    [
      'every address refused',
      new AggregateError([driverError('a', 'ECONNREFUSED'), driverError('b', 'ECONNREFUSED')]),
    ],
    ['a refusal as the cause', new Error('query failed', { cause: driverError('refused', 'ECONNREFUSED') })],
    [
      'a refusal thrown as a non-Error, as graphql-js wraps it',
      Object.assign(new Error('Unexpected error value: { code: "ECONNREFUSED" }'), {
        name: 'NonErrorThrown',
        thrownValue: { code: 'ECONNREFUSED' },
      }),
    ],
  ])('%s: SERVICE_UNAVAILABLE, 503, Retry-After 5', (_name, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
    expect(publicError(error)).toEqual({
      code: 'SERVICE_UNAVAILABLE',
      status: 503,
      message: UNAVAILABLE,
      retryAfterSeconds: 5,
    });
    // A resolver's error: still logged by the GraphQL plugin (internal), yet answered SERVICE_UNAVAILABLE.
    const thrown = new GraphQLError('hidden', { originalError: error as Error, path: ['login'] });
    expect(classifyError(thrown)).toBe('internal');
    expect(formatError({ message: 'hidden', path: ['login'] }, thrown)).toEqual({
      message: UNAVAILABLE,
      path: ['login'],
      extensions: { code: 'SERVICE_UNAVAILABLE', retryAfterSeconds: 5 },
    });
  });

  it.each<[string, unknown]>([
    [
      'a unique violation (a bug or a race the service handles)',
      new UniqueConstraintViolationException(driverError('duplicate key', '23505')),
    ],
    ['a syntax error', new SyntaxErrorException(driverError('syntax error at or near "selec"', '42601'))],
    [
      'a statement cancelled by statement_timeout',
      driverError('canceling statement due to statement timeout', '57014'),
    ],
    [
      'a SQLite constraint',
      driverError('SQLITE_CONSTRAINT: NOT NULL constraint failed', 'SQLITE_CONSTRAINT'),
    ],
    [
      'a plain Error that only mentions a connection',
      new Error('connection refused to /var/lib/auth.sqlite'),
    ],
    ['an internal AuthError', new AuthError('INTERNAL_SERVER_ERROR')],
    ['a mixed AggregateError', new AggregateError([driverError('a', 'ECONNREFUSED'), new Error('b')])],
    ['a thrown string', 'ECONNREFUSED'],
  ])('%s: still a hidden 500', (_name, error) => {
    expect(isDatabaseUnavailable(error)).toBe(false);
    expect(publicError(error)).toEqual({
      code: 'INTERNAL_SERVER_ERROR',
      status: 500,
      message: 'internal server error',
    });
  });
});
