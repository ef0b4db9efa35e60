// The composition root: the one place that creates and wires the database, the modules, GraphQL and HTTP.
import type { FastifyInstance } from 'fastify';
import { AccountService, maxLiveResetTokens, PasswordHasher } from './accounts';
import { openLimiterStore, RateLimits } from './abuse';
import { Cleanup, SecurityLog } from './audit';
import { startupWarnings, type Config } from './config';
import {
  databaseNotReadyReason,
  openDatabase,
  StorageFaults,
  warnOfNonconformingEmails,
  type Orm,
} from './database';
import { AuthResolver } from './graphql/auth.resolver';
import { buildAuthSchema } from './graphql/schema';
import { registerBodyParsers } from './http/body-parsers';
import { SessionCookie } from './http/cookies';
import { DatabaseFile } from './http/database-file';
import { registerDeadline } from './http/deadline';
import { registerDraining } from './http/draining';
import { registerErrorHandlers } from './http/error-handler';
import { registerGraphQL } from './http/graphql.plugin';
import { registerHealth } from './http/health';
import { BatchedLineWriter } from './http/logging';
import { registerRequestChecks } from './http/request-checks';
import { registerRestShim } from './http/rest-shim';
import { registerSecurity } from './http/security';
import { closeGracefully, createServer, logDestination, type LogDestination } from './http/server';
import { HttpSessions } from './http/session-hook';
import { Shutdown } from './http/shutdown';
import { MailOutbox, removeFailedMailOlderThan, SmtpMailer } from './mail';
import { AuthOperations } from './operations';
import { SessionService, SessionStore } from './sessions';
import { BackgroundWork, systemClock, type Clock, type Logger } from './shared';

/** Things the composition root lets a caller replace: the clock (tests move time) and the log destination. */
export interface AppOptions {
  readonly clock?: Clock;
  /** Where log lines go (default: stdout). Tests pass a stream to read them. */
  readonly logStream?: LogDestination;
}

/** A wired application: the HTTP server and the pieces tests and scripts may reach. */
export interface App {
  readonly server: FastifyInstance;
  readonly orm: Orm;
  /** The accounts module (the exercise's registerUser, validLogin, createSession, reset...). */
  readonly accounts: AccountService;
  /** The sessions module (the exercise's getUserFromSessionId, destroySession...). */
  readonly sessions: SessionService;
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

/** Opens (and migrates) the database and builds the server. Nothing listens until `app.server.listen()`. */
export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  // The server's logger exists only once Fastify does; until then (opening, migrating) a driver warning that has
  // nowhere to go is dropped, since a failed start is reported by the error it throws.
  let serverLog: Logger | undefined;
  const { orm, appliedMigrations } = await openDatabase(config, (message) =>
    serverLog?.warn({ driver: message }, 'database driver warning'),
  );
  /** What a failed start must undo besides the database: clients that would keep the process alive. */
  const undoOnFailure: (() => void)[] = [];
  try {
    const clock = options.clock ?? systemClock;
    const destination = await logDestination(config, options.logStream);
    const server = createServer(config, destination);
    const log = server.log;
    serverLog = log;
    const shutdown = new Shutdown();
    shutdown.register(server);
    if (destination instanceof BatchedLineWriter) shutdown.add('logs', () => destination.close());
    if (appliedMigrations.length > 0) log.info({ migrations: appliedMigrations }, 'applied migrations');
    await warnOfNonconformingEmails(orm, log);
    for (const warning of startupWarnings(config)) log.warn(warning);

    const passwords = new PasswordHasher(config.bcryptRounds, {
      maxConcurrency: config.bcryptMaxConcurrency,
      maxQueue: config.bcryptMaxQueue,
    });
    await passwords.warmUp();
    const sessionStore = new SessionStore(orm.em.getConnection());
    // The session reader may hold a connection of its own (SQLite files); it closes with the ORM's.
    shutdown.add('database', () => sessionStore.close());
    shutdown.add('database', () => orm.close());
    const sessions = new SessionService({
      em: orm.em,
      sessionStore,
      clock,
      lifetimes: {
        sessionIdleTtlSeconds: config.sessionIdleTtlSeconds,
        sessionAbsoluteTtlSeconds: config.sessionAbsoluteTtlSeconds,
        sessionTouchIntervalSeconds: config.sessionTouchIntervalSeconds,
      },
    });
    const accounts = new AccountService({
      em: orm.em,
      sessions,
      passwords,
      clock,
      lifetimes: {
        resetTokenTtlSeconds: config.resetTokenTtlSeconds,
        maxLiveResetTokens: maxLiveResetTokens(
          config.resetTokenTtlSeconds,
          config.rateLimit.resetRequestPerAccount,
        ),
      },
    });

    const limiterStore = openLimiterStore(config, orm.em.getConnection().getKnex(), log);
    undoOnFailure.push(() => limiterStore.abandon());
    const limits = new RateLimits(config.rateLimit, limiterStore.store);
    shutdown.add('limits', () => limits.close());
    shutdown.add('limits', () => limiterStore.close());
    const securityLog = new SecurityLog(orm.em, { clock, log });
    const background = new BackgroundWork(config.backgroundMaxPending);
    shutdown.add('background', () => background.settled());
    shutdown.add('background', () => securityLog.stop());

    // Mail is written to the outbox in the transaction of the change it tells of and sent from there, so a mail
    // server that is down or slow delays mail instead of losing it. Without a mail server there is no outbox
    // worker: nothing is written that nobody would send.
    const mailer =
      config.mail.smtpUrl === null ? null : new SmtpMailer(config.mail.smtpUrl, config.mail.from);
    const outbox =
      mailer === null
        ? null
        : new MailOutbox({
            em: orm.em,
            mailer,
            log,
            clock,
            skipLocked: config.database.dialect === 'postgresql',
            retryMinSeconds: config.mail.retryMinSeconds,
            retryMaxSeconds: config.mail.retryMaxSeconds,
          });
    if (mailer !== null) shutdown.add('mailer', () => mailer.close());
    if (outbox !== null) shutdown.add('outbox', () => outbox.stop());

    const ops = new AuthOperations({
      accounts,
      sessions,
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
      steps: [
        { name: 'sessions', removeExpired: (batch) => sessions.removeExpired(batch) },
        { name: 'resetTokens', removeExpired: (batch) => accounts.removeExpiredResetTokens(batch) },
        {
          name: 'securityEvents',
          removeExpired: (batch) => securityLog.removeOlderThan(config.securityEventRetentionDays, batch),
        },
        {
          name: 'failedMails',
          removeExpired: (batch) =>
            removeFailedMailOlderThan(orm.em, config.mail.failedRetentionDays, clock.now(), batch),
        },
      ],
      log,
      intervalSeconds: config.cleanupIntervalSeconds,
      batchSize: config.cleanupBatchSize,
    });
    shutdown.add('timers', () => cleanup.stop());

    // SQLite on a file: no write may be acknowledged into a file removed or replaced under us (see DatabaseFile),
    // and a full disk or a read-only filesystem fails writes while `select 1` still works (see StorageFaults).
    const onFile = config.database.dialect === 'sqlite' && config.database.sqlitePath !== ':memory:';
    const databaseFile = onFile ? new DatabaseFile(config.database.sqlitePath, log) : null;
    const storageFaults = onFile ? new StorageFaults(clock, log) : null;
    storageFaults?.watch(orm.em.getConnection().getKnex());

    // Only forms (as curl -d sends them) and JSON: any other body type is refused with 415.
    registerBodyParsers(server);
    registerErrorHandlers(server);
    registerDraining(server);
    await registerSecurity(server, { corsOrigins: config.corsOrigins });
    registerRequestChecks(server, { corsOrigins: config.corsOrigins });
    registerDeadline(server, config.handlerTimeoutSeconds * 1000);
    databaseFile?.register(server);
    const cookie = new SessionCookie({
      secure: config.cookieSecure,
      sameSite: config.cookieSameSite,
      hostPrefix: config.cookieHostPrefix,
    });
    const httpSessions = new HttpSessions(ops, cookie);
    httpSessions.register(server);
    registerRestShim(server, ops, httpSessions);
    registerHealth(server, [
      () => Promise.resolve(databaseFile?.notReadyReason() ?? storageFaults?.notReadyReason() ?? null),
      () => limiterStore.notReadyReason(),
      () => databaseNotReadyReason(orm),
    ]);
    const schema = await buildAuthSchema(new AuthResolver(ops));
    await registerGraphQL(server, { schema, sessions: httpSessions, limits: config.graphql });
    await server.ready();
    await limiterStore.ready;
    cleanup.start();
    securityLog.start();
    outbox?.start();

    return {
      server,
      orm,
      accounts,
      sessions,
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
