// The composition root: the one place that creates and wires the database, services, GraphQL and HTTP.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Orm } from './database/orm';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { AuthGate } from './operations/auth-operations';
import { AuthService, maxLiveResetTokens } from './accounts/auth.service';
import { systemClock, type Clock } from './shared/clock';
import { Cleanup } from './audit/cleanup';
import { PasswordHasher } from './accounts/password';
import { BackgroundWork } from './shared/background';
import { memoryStore, RateLimits, type LimiterStore, type StoreHealth } from './abuse/rate-limits';
import { SecurityLog } from './audit/security-log';
import { SessionStore } from './sessions/session-store';
import type { Config } from './config';
import { nonconformingEmailUserIds, openDatabase } from './database/orm';
import { AuthResolver } from './graphql/auth.resolver';
import { buildAuthSchema } from './graphql/schema';
import { registerBodyParsers } from './http/body-parsers';
import { answerClientError, answerFrameworkError, registerErrorHandlers } from './http/error-handler';
import { registerGraphQL } from './http/graphql.plugin';
import { registerDraining } from './http/draining';
import { StorageFaults } from './database/storage-faults';
import { DatabaseFile } from './http/database-file';
import { registerDeadline } from './http/deadline';
import { registerHealth } from './http/health';
import { registerRequestChecks } from './http/request-checks';
import { registerRestShim } from './http/rest-shim';
import { registerSecurity } from './http/security';
import { SessionCookie } from './http/cookies';
import { HttpSessions } from './http/session-hook';
import {
  BatchedLineWriter,
  OneLinePerRequest,
  REDACTED_PATHS,
  errorForLog,
  serializeReply,
  serializeRequest,
} from './http/logging';
import { SmtpMailer } from './mail/mailer';
import { MailOutbox } from './mail/outbox';

/** Things the composition root lets a caller replace: the clock (tests move time) and the log destination. */
export interface AppOptions {
  readonly clock?: Clock;
  /** Where log lines go (default: stdout). Tests pass a stream to read them. */
  readonly logStream?: { write(line: string): void };
}

/** A wired application: the HTTP server and the pieces tests and scripts may reach. */
export interface App {
  readonly server: FastifyInstance;
  readonly orm: Orm;
  readonly auth: AuthService;
  readonly passwords: PasswordHasher;
  readonly limits: RateLimits;
  readonly securityLog: SecurityLog;
  readonly cleanup: Cleanup;
  /** The mail outbox's worker; null without a mail server (SMTP_URL). */
  readonly outbox: MailOutbox | null;
  /**
   * Resolves once the work started after answers so far (reset issuance and mail by email) has finished and the
   * refusals tallied so far are written: what a test or a script waits for before reading the database.
   */
  settled(): Promise<void>;
  /** Stops accepting requests, finishes in-flight ones, stops Apollo and closes the database. */
  close(): Promise<void>;
}

/**
 * How often Node checks connections against the request timeout. Its default (30 s) would let a 10 s timeout
 * fire anywhere between 10 and 40 s; a check a second is cheap (a walk over open connections).
 */
const TIMEOUT_CHECK_INTERVAL_MS = 1000;

/** How many account ids a start-up warning names; the table has them all. */
const MAX_LISTED_USER_IDS = 20;

/** How long one Redis command (or connecting) may take before the limited request is answered 503. */
const REDIS_COMMAND_TIMEOUT_MS = 1000;

/** How long a Redis connection may stay silent with commands outstanding before it is torn down. */
const REDIS_SOCKET_TIMEOUT_MS = 2000;

/** How often a closing server looks for keep-alive connections that have just gone idle. */
const IDLE_SWEEP_INTERVAL_MS = 100;

/**
 * Closes the server: no new connections, in-flight requests finish, then the onClose hooks run. Fastify closes
 * the connections that are idle when close() starts, but a keep-alive connection whose request was still in
 * flight becomes idle only later and would hold the close open until its keep-alive timeout; sweeping idle
 * connections until the close completes ends each one as soon as its last response is sent.
 */
async function closeGracefully(server: FastifyInstance): Promise<void> {
  const sweeper = setInterval(() => server.server.closeIdleConnections(), IDLE_SWEEP_INTERVAL_MS);
  try {
    await server.close();
  } finally {
    clearInterval(sweeper);
  }
}

/**
 * Where the rate-limit counters live: Redis when REDIS_URL is set, else PostgreSQL's table when the database is
 * PostgreSQL (instances must count together), else this process's memory (SQLite means one instance).
 */
function limiterStore(
  config: Config,
  orm: Orm,
  server: FastifyInstance,
  connecting: Promise<void>[],
  undoOnFailure: (() => void)[],
): LimiterStore {
  if (config.redisUrl !== null) {
    const client = new Redis(config.redisUrl, {
      // Fail fast rather than queue commands while Redis is down: the limited operation is answered 503 at once.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      // A frozen Redis (stopped, partitioned) accepts or keeps a connection and never answers: without a bound
      // every login would hang for the whole outage. Limit checks take well under a millisecond when it is well.
      commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
      connectTimeout: REDIS_COMMAND_TIMEOUT_MS,
      // A command timeout only rejects the promise: the command stays queued on a connection that looks alive, and
      // a frozen Redis would collect every limited request's command (memory) and run them all when it wakes
      // (counting refused attempts). A socket silent this long is torn down, dropping what it holds.
      socketTimeout: REDIS_SOCKET_TIMEOUT_MS,
    });
    undoOnFailure.push(() => client.disconnect());
    const health = watchRedis(client, server.log);
    connecting.push(untilReady(client));
    server.addHook('onClose', async () => {
      await client.quit().catch(() => client.disconnect());
    });
    return { kind: 'redis', client, keyPrefix: config.redisKeyPrefix, health };
  }
  if (config.database.dialect === 'postgresql') {
    return { kind: 'postgres', knex: orm.em.getConnection().getKnex(), tableName: 'rate_limits' };
  }
  return memoryStore(config.rateLimit.memoryMaxKeys);
}

/**
 * Resolves when the client is connected, or after REDIS_COMMAND_TIMEOUT_MS whatever happened: the first requests
 * after a start then find Redis ready, and a Redis that is down at start delays it by no more than that (the limited
 * operations answer 503 until it is back, and /readyz says why).
 */
function untilReady(client: Redis): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, REDIS_COMMAND_TIMEOUT_MS);
    client.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Logs a Redis outage once when it begins and once when it ends. ioredis reports every failed reconnect as an
 * `error`, several a second, and a frozen Redis reports nothing at all (its commands just time out): the limits
 * tell this of every failed and successful command too, and the operator gets one line for each change.
 */
function watchRedis(client: Redis, log: FastifyBaseLogger): StoreHealth {
  let down = false;
  const health: StoreHealth = {
    failed: (error: unknown) => {
      if (down) return;
      down = true;
      log.error(
        { error: errorForLog(error) },
        'redis unreachable: limited operations answer 503 until it is back',
      );
    },
    succeeded: () => {
      if (!down) return;
      down = false;
      log.info('redis reachable again');
    },
  };
  client.on('error', (error: Error) => health.failed(error));
  return health;
}

/** Why the limits' store keeps the instance from serving, or null: Redis must answer a PING within its timeout. */
async function redisNotReadyReason(store: LimiterStore): Promise<string | null> {
  if (store.kind !== 'redis') return null;
  try {
    await (store.client as Redis).ping();
    store.health?.succeeded();
    return null;
  } catch (error) {
    store.health?.failed(error);
    return 'rate-limit store (redis) unreachable';
  }
}

/**
 * Readable log lines (pino-pretty) when a developer watches the terminal: development mode with stdout a TTY.
 * Everywhere else, and when pino-pretty is not installed (it is a dev dependency: a production install lacks it),
 * null, and the logs stay one JSON object per line for whatever collects them.
 */
async function terminalLog(config: Config): Promise<{ write(line: string): void } | null> {
  if (config.nodeEnv !== 'development' || !process.stdout.isTTY) return null;
  try {
    const { default: pretty } = await import('pino-pretty');
    // Synchronous, as the JSON writer's lines are on close: the last lines before an exit ("stopping ...") print.
    return pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', sync: true });
  } catch {
    return null;
  }
}

/** Opens (and migrates) the database and builds the server. Nothing listens until `app.server.listen()`. */
export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  // The server's logger exists only once Fastify does; until then (opening, migrating) a driver warning that has
  // nowhere to go is dropped, since a failed start is reported by the error it throws.
  let serverLog: FastifyBaseLogger | undefined;
  const { orm, appliedMigrations } = await openDatabase(config, (message) =>
    serverLog?.warn({ driver: message }, 'database driver warning'),
  );
  /** What a failed start must undo besides the database: clients that would keep the process alive. */
  const undoOnFailure: (() => void)[] = [];
  try {
    const passwords = new PasswordHasher(config.bcryptRounds, {
      maxConcurrency: config.bcryptMaxConcurrency,
      maxQueue: config.bcryptMaxQueue,
    });
    await passwords.warmUp();
    const sessionStore = new SessionStore(orm.em.getConnection());
    const auth = new AuthService({
      em: orm.em,
      sessionStore,
      passwords,
      clock: options.clock ?? systemClock,
      lifetimes: {
        sessionIdleTtlSeconds: config.sessionIdleTtlSeconds,
        sessionAbsoluteTtlSeconds: config.sessionAbsoluteTtlSeconds,
        sessionTouchIntervalSeconds: config.sessionTouchIntervalSeconds,
        resetTokenTtlSeconds: config.resetTokenTtlSeconds,
        maxLiveResetTokens: maxLiveResetTokens(
          config.resetTokenTtlSeconds,
          config.rateLimit.resetRequestPerAccount,
        ),
      },
    });

    // One write per turn of the event loop rather than one per line (see BatchedLineWriter); tests pass their own.
    const logDestination = options.logStream ?? (await terminalLog(config)) ?? new BatchedLineWriter();
    const server = Fastify({
      logger: {
        level: config.logLevel,
        redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
        serializers: { req: serializeRequest, res: serializeReply },
        stream: logDestination,
      },
      logController: new OneLinePerRequest(),
      bodyLimit: config.bodyLimitBytes,
      requestTimeout: config.requestTimeoutSeconds * 1000,
      // No Fastify handlerTimeout: registerDeadline enforces HANDLER_TIMEOUT_SECONDS on every request (Fastify's
      // own timer stops at the end of the body), and a second timer, AbortController and listener per request
      // would only cost the hot path.
      // Both limits at once: Node keeps its 60 s headers timeout otherwise, and since that may not exceed the
      // request timeout it would swap them, leaving a body free to trickle in for a minute.
      http: {
        connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
        headersTimeout: config.requestTimeoutSeconds * 1000,
        requestTimeout: config.requestTimeoutSeconds * 1000,
      },
      // Without named proxies, X-Forwarded-For is ignored: any client could write it and pick its own address.
      trustProxy: config.trustProxy.length === 0 ? false : [...config.trustProxy],
      // Random ids are unique across restarts and instances (Fastify's default counter restarts at req-1), and
      // a client-sent id is never used, so nobody can plant a misleading id in our logs.
      genReqId: () => randomUUID(),
      frameworkErrors: answerFrameworkError,
      clientErrorHandler: answerClientError,
      // A request read after closing has started (one a client pipelined behind a running one) is still served
      // in full, with `Connection: close`: Fastify's default answers it a bare 503 in its own format, without our
      // headers or a Retry-After, for work that this instance can still do within its grace period.
      return503OnClosing: false,
    });
    serverLog = server.log;
    if (logDestination instanceof BatchedLineWriter) {
      server.addHook('onClose', () => Promise.resolve(logDestination.close()));
    }
    if (appliedMigrations.length > 0) {
      server.log.info({ migrations: appliedMigrations }, 'applied migrations');
    }
    // Said at every start until fixed: these owners get no reset mail or notice (README, "Account security").
    const nonconforming = await nonconformingEmailUserIds(orm);
    if (nonconforming.length > 0) {
      server.log.warn(
        { accounts: nonconforming.length, userIds: nonconforming.slice(0, MAX_LISTED_USER_IDS) },
        'accounts whose email is not a single mailbox get no mail until corrected (table nonconforming_emails)',
      );
    }
    if (config.nodeEnv === 'production' && config.resetTokenDelivery === 'response') {
      // Production only starts like this with ALLOW_INSECURE_RESET_DELIVERY=true: still say it at every start.
      server.log.warn(
        'password reset tokens are returned in API responses (development behaviour): anyone who knows an email ' +
          'can take over its account; do not expose this instance to untrusted clients',
      );
    }
    if (!config.rateLimit.enabled) {
      server.log.warn(
        'RATE_LIMIT=off: no brute-force or spam limits apply; use this only for load tests, never in production',
      );
    }
    server.addHook('onClose', async () => {
      // The session reader may hold a connection of its own (SQLite files); it closes with the ORM's.
      await sessionStore.close();
      await orm.close();
    });

    // Only forms (as curl -d sends them) and JSON: any other body type is refused with 415.
    registerBodyParsers(server);
    registerErrorHandlers(server);
    registerDraining(server);
    await registerSecurity(server, { corsOrigins: config.corsOrigins });
    registerRequestChecks(server, { corsOrigins: config.corsOrigins });
    registerDeadline(server, config.handlerTimeoutSeconds * 1000);
    // SQLite on a file: no write may be acknowledged into a file removed or replaced under us (see DatabaseFile).
    const databaseFile =
      config.database.dialect === 'sqlite' && config.database.sqlitePath !== ':memory:'
        ? new DatabaseFile(config.database.sqlitePath, server.log)
        : null;
    databaseFile?.register(server);

    const clock = options.clock ?? systemClock;
    // SQLite on a file: a full disk or a read-only filesystem fails writes while `select 1` still works, so
    // readiness also listens for those faults (see StorageFaults).
    const storageFaults = databaseFile === null ? null : new StorageFaults(clock, server.log);
    storageFaults?.watch(orm.em.getConnection().getKnex());
    // Several instances share one PostgreSQL database, so they must share their counters too; SQLite means one
    // instance, whose memory is the cheapest store.
    const connecting: Promise<void>[] = [];
    const store = limiterStore(config, orm, server, connecting, undoOnFailure);
    const limits = new RateLimits(config.rateLimit, store);
    server.addHook('onClose', () => {
      limits.close();
      return Promise.resolve();
    });
    const securityLog = new SecurityLog(orm.em, { clock, log: server.log });
    const background = new BackgroundWork(config.backgroundMaxPending);
    const mailer =
      config.mail.smtpUrl === null ? null : new SmtpMailer(config.mail.smtpUrl, config.mail.from);
    server.addHook('onClose', () => {
      mailer?.close();
      return Promise.resolve();
    });
    // Mail is written to the outbox in the transaction of the change it tells of and sent from there, so a mail
    // server that is down or slow delays mail instead of losing it. Without a mail server there is no outbox
    // worker: nothing is written that nobody would send.
    const outbox =
      mailer === null
        ? null
        : new MailOutbox({
            em: orm.em,
            mailer,
            log: server.log,
            clock,
            skipLocked: config.database.dialect === 'postgresql',
            retryMinSeconds: config.mail.retryMinSeconds,
            retryMaxSeconds: config.mail.retryMaxSeconds,
          });
    // Newest first: this runs before the mailer closes, so a mail being sent finishes its exchange.
    server.addHook('onClose', async () => {
      await outbox?.stop();
    });
    const gate = new AuthGate({
      auth,
      limits,
      securityLog,
      clock,
      background,
      delivery: {
        resetTokens: config.resetTokenDelivery,
        outbox,
        resetUrlTemplate: config.mail.resetUrlTemplate,
        resetTokenTtlSeconds: config.resetTokenTtlSeconds,
      },
    });
    const cleanup = new Cleanup({
      auth,
      securityLog,
      log: server.log,
      intervalSeconds: config.cleanupIntervalSeconds,
      batchSize: config.cleanupBatchSize,
      retentionDays: config.securityEventRetentionDays,
      failedMail: { em: orm.em, retentionDays: config.mail.failedRetentionDays, clock },
    });
    // preClose runs as closing starts, before any onClose hook: no clean-up can then run while the database closes.
    server.addHook('preClose', async () => {
      await cleanup.stop();
    });
    // onClose hooks run after in-flight requests have finished, newest first: this one, added after the one that
    // closes the database, runs before it. Work those requests started after answering finishes, then the
    // refusals they tallied are written, so a shutdown loses neither.
    server.addHook('onClose', async () => {
      await background.settled();
      await securityLog.stop();
    });
    const cookie = new SessionCookie({
      secure: config.cookieSecure,
      sameSite: config.cookieSameSite,
      hostPrefix: config.cookieHostPrefix,
    });
    const sessions = new HttpSessions(auth, gate, cookie);
    sessions.register(server);
    registerRestShim(server, gate, sessions);
    registerHealth(
      server,
      orm,
      () => Promise.resolve(databaseFile?.notReadyReason() ?? storageFaults?.notReadyReason() ?? null),
      () => redisNotReadyReason(store),
    );
    const schema = await buildAuthSchema(new AuthResolver(gate));
    await registerGraphQL(server, { schema, sessions, limits: config.graphql });
    await server.ready();
    await Promise.all(connecting);
    cleanup.start();
    securityLog.start();
    outbox?.start();

    return {
      server,
      orm,
      auth,
      passwords,
      limits,
      securityLog,
      cleanup,
      outbox,
      settled: async () => {
        await background.settled();
        await outbox?.idle();
        await securityLog.flush();
      },
      close: () => closeGracefully(server),
    };
  } catch (error) {
    // The Redis client would otherwise keep reconnecting (and the process alive) after a failed start.
    for (const undo of undoOnFailure) undo();
    await orm.close(true);
    throw error;
  }
}
