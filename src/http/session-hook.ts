// Per-request access to the caller's session for both transports: read once from the cookie, and written back.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthOperations, NewSession, ValidSession } from '../operations';
import { callerOf } from './caller';
import type { SessionCookie } from './cookies';

declare module 'fastify' {
  interface FastifyRequest {
    /** The session lookup for this request, started on first use and shared by every later use. */
    authSession: Promise<ValidSession | null> | null;
  }
}

/**
 * Connects HTTP requests to their sessions, through the use cases. The lookup is lazy: requests that never ask who is calling
 * (register, login, GET /) never touch the sessions table, and one that asks twice reads it once.
 */
export class HttpSessions {
  constructor(
    private readonly ops: AuthOperations,
    private readonly cookie: SessionCookie,
  ) {}

  /** Adds the per-request slot to the Fastify instance; call once at start. */
  register(app: FastifyInstance): void {
    app.decorateRequest('authSession', null);
  }

  /** The valid session of this request, or null. Re-sends the cookie when the sliding expiry moved. */
  current(request: FastifyRequest, reply: FastifyReply): Promise<ValidSession | null> {
    request.authSession ??= this.lookup(request, reply);
    return request.authSession;
  }

  /** The session cookie's value as this request sent it, unchecked; undefined without one. */
  token(request: FastifyRequest): string | undefined {
    return this.cookie.read(request.headers.cookie);
  }

  /** Sends the cookie of a session just created by a login. */
  started(reply: FastifyReply, session: NewSession): void {
    reply.header('set-cookie', this.cookie.set(session.token, session.maxAgeSeconds));
  }

  /** Ends this request's session, if it has a valid one; returns whether one ended. */
  async end(request: FastifyRequest): Promise<boolean> {
    const ended = await this.ops.logout(callerOf(request), this.token(request));
    request.authSession = Promise.resolve(null);
    return ended;
  }

  /** Tells the client to drop its session cookie. */
  clearCookie(reply: FastifyReply): void {
    // Replaces a refreshed cookie this same request may have set: one answer must not name the cookie twice.
    reply.removeHeader('set-cookie');
    reply.header('set-cookie', this.cookie.cleared());
  }

  private async lookup(request: FastifyRequest, reply: FastifyReply): Promise<ValidSession | null> {
    const token = this.cookie.read(request.headers.cookie);
    if (token === undefined) return null;
    const session = await this.ops.validateSession(token);
    // A moved expiry must reach the browser too, or its cookie would lapse before the session does.
    if (session?.refreshed === true) {
      reply.header('set-cookie', this.cookie.set(token, session.maxAgeSeconds));
    }
    return session;
  }
}
