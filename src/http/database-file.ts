// Guards against a SQLite file removed or replaced under the running process: no write is acknowledged into it.
import { accessSync, constants, statSync } from 'node:fs';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { DATABASE_RETRY_AFTER_SECONDS, ERROR_CATALOGUE } from '../errors';

/** What a REST client is told while the database file is not the one the process opened. */
const VANISHED_BODY = JSON.stringify({ message: ERROR_CATALOGUE.SERVICE_UNAVAILABLE.message });

/** The same in GraphQL's shape, with the code and retry delay an Apollo client reads. */
const VANISHED_GRAPHQL_BODY = JSON.stringify({
  errors: [
    {
      message: ERROR_CATALOGUE.SERVICE_UNAVAILABLE.message,
      extensions: { code: 'SERVICE_UNAVAILABLE', retryAfterSeconds: DATABASE_RETRY_AFTER_SECONDS },
    },
  ],
});

/**
 * Routes that never touch the database keep answering: liveness must not depend on the file, and /readyz says
 * itself why it is not ready (see `problem`).
 */
const WITHOUT_DATABASE: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/']);

/** Whether a request may change the database: anything but the safe methods. */
function isWrite(method: string): boolean {
  return method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS';
}

/** The refusal's body for this request's transport. */
function refusalBody(url: string): string {
  return url.startsWith('/graphql') ? VANISHED_GRAPHQL_BODY : VANISHED_BODY;
}

/**
 * The SQLite file the process opened, by identity (device and inode). A file deleted while open stays usable
 * through the open descriptors: SQLite keeps writing to it, every write is answered 200, and all of it is gone at
 * the next start, which opens (or creates) whatever is at the path then. A file replaced (a restore copied over
 * it by rename) is the same loss the other way round. Comparing the path's identity with the opened one's finds
 * both at the cost of one stat.
 */
export class DatabaseFile {
  private readonly identity: string | null | undefined;
  private found: string | null = null;
  private reported = false;

  constructor(
    readonly path: string,
    private readonly log: FastifyBaseLogger,
  ) {
    this.identity = DatabaseFile.identityOf(path);
  }

  /**
   * The path's current identity; null when nothing is there (ENOENT); undefined when it cannot be told (EACCES,
   * EIO, a stale network mount): that is no proof of a removal, and the database's own errors answer for it.
   */
  private static identityOf(path: string): string | null | undefined {
    try {
      const { dev, ino } = statSync(path);
      return `${dev}:${ino}`;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'ENOENT' ? null : undefined;
    }
  }

  /**
   * Why the file the process has open is no longer the one at its path, or null while it is. Once found, it stays
   * (a file put back at the path is still not the one open), and it is logged once.
   */
  problem(): string | null {
    if (this.found !== null) return this.found;
    const now = DatabaseFile.identityOf(this.path);
    if (now === undefined || now === this.identity) return null;
    const problem =
      now === null ? 'database file was removed while open' : 'database file was replaced while open';
    this.found = problem;
    if (!this.reported) {
      this.reported = true;
      // Not recoverable in-process on purpose: switching to whatever file is at the path now would serve another
      // database (or an empty one) under the same name. A restart opens it deliberately.
      this.log.error(
        { path: this.path, problem },
        `${problem}: answering 503 until the service is restarted`,
      );
    }
    return problem;
  }

  /**
   * Why the instance cannot serve writes, for /readyz: the file is not the opened one (see `problem`), or it (or
   * its filesystem) has become read-only, which SQLite only reports at the next write. Null when it can.
   */
  notReadyReason(): string | null {
    const problem = this.problem();
    if (problem !== null) return problem;
    try {
      accessSync(this.path, constants.W_OK);
      return null;
    } catch {
      return 'database file is not writable';
    }
  }

  /**
   * Refuses, with 503 SERVICE_UNAVAILABLE, every write while the file is not the opened one, and replaces any
   * answer to a write that was about to claim success: the write went to a file that will not exist after a
   * restart, so it must not be acknowledged.
   */
  register(app: FastifyInstance): void {
    app.addHook('onRequest', (request, reply, done) => {
      // Writes only: a read of the vanished file answers what was there (nothing is lost by it), and the hot path
      // (GET /profile) stays free of the stat. /readyz reports the problem to the load balancer either way.
      if (!isWrite(request.method) || WITHOUT_DATABASE.has(request.url) || this.problem() === null) {
        return done();
      }
      void reply
        .status(ERROR_CATALOGUE.SERVICE_UNAVAILABLE.status)
        .header('retry-after', DATABASE_RETRY_AFTER_SECONDS)
        .type('application/json; charset=utf-8')
        .send(refusalBody(request.url));
    });
    app.addHook('onSend', (request, reply, payload, done) => {
      if (!isWrite(request.method) || reply.statusCode >= 400 || this.problem() === null) {
        return done(null, payload);
      }
      reply.removeHeader('set-cookie');
      void reply
        .status(ERROR_CATALOGUE.SERVICE_UNAVAILABLE.status)
        .header('retry-after', DATABASE_RETRY_AFTER_SECONDS)
        .type('application/json; charset=utf-8');
      done(null, refusalBody(request.url));
    });
  }
}
