// The service's own per-request deadline: a request not answered within HANDLER_TIMEOUT_SECONDS gets 503 SERVICE_BUSY.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AuthError, ERROR_CATALOGUE } from '../errors';

/** How long a client told SERVICE_BUSY at the deadline should wait: the overload is usually over in a moment. */
const DEADLINE_RETRY_AFTER_MS = 1000;

/** The deadline's answer on /graphql, in GraphQL's shape: an Apollo client reads extensions.code, not a message. */
const GRAPHQL_BUSY_BODY = JSON.stringify({
  errors: [
    {
      message: ERROR_CATALOGUE.SERVICE_BUSY.message,
      extensions: { code: 'SERVICE_BUSY', retryAfterSeconds: DEADLINE_RETRY_AFTER_MS / 1000 },
    },
  ],
});

/** Each request's deadline timer, kept off the request object's own properties. */
const timers = new WeakMap<FastifyRequest, NodeJS.Timeout>();

/**
 * Answers every request that has no answer `timeoutMs` after it arrived with 503 SERVICE_BUSY and Retry-After, as
 * Fastify's `handlerTimeout` means to. Fastify 5.12 stops that timer when the request's IncomingMessage closes,
 * which on a real connection is as soon as its body has been read: every POST (login, register, reset) could then
 * hang for as long as a stuck dependency held it (fastify/fastify PR #6725). This timer ends only with the answer.
 * The work already started is not cancelled (a stuck bcrypt or query finishes in the background and its late
 * reply is dropped); the client gets an answer it can act on, and the connection is free again. For a write the
 * outcome is then unknown to the client: it may have committed after all, so a retry can meet EMAIL_TAKEN or a
 * used reset token, which docs/graphql.md says (error codes).
 */
export function registerDeadline(app: FastifyInstance, timeoutMs: number): void {
  app.addHook('onRequest', (request, reply, done) => {
    const timer = setTimeout(() => {
      if (reply.sent || reply.raw.headersSent || reply.raw.destroyed) return;
      if (request.url.startsWith('/graphql')) {
        void reply
          .status(ERROR_CATALOGUE.SERVICE_BUSY.status)
          .header('retry-after', DEADLINE_RETRY_AFTER_MS / 1000)
          .type('application/json; charset=utf-8')
          .send(GRAPHQL_BUSY_BODY);
        return;
      }
      void reply.send(AuthError.retryLater('SERVICE_BUSY', DEADLINE_RETRY_AFTER_MS));
    }, timeoutMs);
    // Never keeps the process alive on its own: shutdown waits for requests, not for their deadlines.
    timer.unref();
    timers.set(request, timer);
    done();
  });
  app.addHook('onResponse', (request, _reply, done) => {
    clearTimeout(timers.get(request));
    timers.delete(request);
    done();
  });
}
