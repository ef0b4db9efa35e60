// The composition root: the one place that creates and wires the database, services, GraphQL and HTTP.
import type { MikroORM } from '@mikro-orm/sqlite';
import Fastify, { type FastifyInstance } from 'fastify';
import { AuthService } from './auth/auth.service';
import { systemClock, type Clock } from './auth/clock';
import { PasswordHasher } from './auth/password';
import { SessionStore } from './auth/session-store';
import type { Config } from './config';
import { openDatabase } from './database';
import { AuthResolver } from './graphql/auth.resolver';
import { buildAuthSchema } from './graphql/schema';
import { registerBodyParsers } from './http/body-parsers';
import { answerClientError, answerFrameworkError, registerErrorHandlers } from './http/error-handler';
import { registerGraphQL } from './http/graphql.plugin';
import { registerRestShim } from './http/rest-shim';
import { HttpSessions } from './http/session-hook';
import { OneLinePerRequest, REDACTED_PATHS, serializeReply, serializeRequest } from './http/logging';

/** Things the composition root lets a caller replace: the clock (tests move time) and the log destination. */
export interface AppOptions {
  readonly clock?: Clock;
  /** Where log lines go (default: stdout). Tests pass a stream to read them. */
  readonly logStream?: { write(line: string): void };
}

/** A wired application: the HTTP server and the pieces tests and scripts may reach. */
export interface App {
  readonly server: FastifyInstance;
  readonly orm: MikroORM;
  readonly auth: AuthService;
  readonly passwords: PasswordHasher;
  /** Stops accepting requests, finishes in-flight ones, stops Apollo and closes the database. */
  close(): Promise<void>;
}

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

/** Opens (and migrates) the database and builds the server. Nothing listens until `app.server.listen()`. */
export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  const { orm, appliedMigrations } = await openDatabase(config);
  try {
    const passwords = new PasswordHasher(config.bcryptRounds);
    await passwords.warmUp();
    const auth = new AuthService({
      em: orm.em,
      sessionStore: new SessionStore(orm.em.getConnection()),
      passwords,
      clock: options.clock ?? systemClock,
      lifetimes: {
        sessionIdleTtlSeconds: config.sessionIdleTtlSeconds,
        sessionAbsoluteTtlSeconds: config.sessionAbsoluteTtlSeconds,
        sessionTouchIntervalSeconds: config.sessionTouchIntervalSeconds,
        resetTokenTtlSeconds: config.resetTokenTtlSeconds,
      },
    });

    const server = Fastify({
      logger: {
        level: config.logLevel,
        redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
        serializers: { req: serializeRequest, res: serializeReply },
        ...(options.logStream === undefined ? {} : { stream: options.logStream }),
      },
      logController: new OneLinePerRequest(),
      bodyLimit: config.bodyLimitBytes,
      frameworkErrors: answerFrameworkError,
      clientErrorHandler: answerClientError,
    });
    if (appliedMigrations.length > 0) {
      server.log.info({ migrations: appliedMigrations }, 'applied migrations');
    }
    if (config.nodeEnv === 'production') {
      // Until reset tokens can go by email, anyone who knows an address can reset its password: say so loudly.
      server.log.warn(
        'password reset tokens are returned in API responses (development behaviour): anyone who knows an email ' +
          'can take over its account; do not expose this instance to untrusted clients',
      );
    }
    server.addHook('onClose', async () => {
      await orm.close();
    });

    // Only forms (as curl -d sends them) and JSON: any other body type is refused with 415.
    registerBodyParsers(server);
    registerErrorHandlers(server);

    const sessions = new HttpSessions(auth, config.cookieSecure);
    sessions.register(server);
    registerRestShim(server, auth, sessions);
    const schema = await buildAuthSchema(new AuthResolver(auth));
    await registerGraphQL(server, { schema, sessions, production: config.nodeEnv === 'production' });
    await server.ready();

    return { server, orm, auth, passwords, close: () => closeGracefully(server) };
  } catch (error) {
    await orm.close(true);
    throw error;
  }
}
