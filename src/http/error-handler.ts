// The one place HTTP errors become answers: catalogue codes keep their status and message, everything else is hidden.
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AuthError, ERROR_CATALOGUE, type ErrorCode } from '../errors';
import { publicError } from '../operations';
import { errorForLog } from './logging';
import { addSecurityHeaders } from './security';

/** Fastify's own errors (body parsing, content type, size, handler timeout) in our catalogue's words. */
function fromFastifyError(error: FastifyError): AuthError | null {
  // HANDLER_TIMEOUT_SECONDS ran out: the machine or the database is overloaded, not broken; the client may retry.
  if (error.code === 'FST_ERR_HANDLER_TIMEOUT') return AuthError.retryLater('SERVICE_BUSY', 1000);
  const status = error.statusCode;
  if (status === undefined || status < 400 || status >= 500) return null;
  if (status === ERROR_CATALOGUE.PAYLOAD_TOO_LARGE.status) return new AuthError('PAYLOAD_TOO_LARGE');
  if (status === ERROR_CATALOGUE.UNSUPPORTED_MEDIA_TYPE.status)
    return new AuthError('UNSUPPORTED_MEDIA_TYPE');
  if (error.code.startsWith('FST_ERR_CTP_') || error instanceof SyntaxError) {
    return new AuthError('BAD_USER_INPUT', 'malformed request body');
  }
  return new AuthError('BAD_USER_INPUT', (STATUS_CODES[status] ?? 'bad request').toLowerCase());
}

/**
 * Answers any error as JSON `{"message": ...}`. A 5xx never shows its message or stack (they can name tables,
 * queries or values); it is logged, scrubbed, under the request id, and the answer carries that id so an
 * operator can find the line. RATE_LIMITED, SERVICE_BUSY and SERVICE_UNAVAILABLE carry Retry-After.
 * SERVICE_BUSY is load shedding, not a fault, so it is neither logged as an error nor given a request id.
 * SERVICE_UNAVAILABLE (the database is unreachable) is a fault, so it is logged like a 500, but its answer is
 * the catalogue's message alone: an outage fails every request alike, and there is no one line to look up. (A
 * Redis outage is logged once by its client instead, see app.ts.)
 */
function answerError(
  error: FastifyError | AuthError,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const known = error instanceof AuthError ? error : fromFastifyError(error);
  const answer = publicError(known ?? error);
  if (answer.retryAfterSeconds !== undefined) void reply.header('retry-after', answer.retryAfterSeconds);
  if (answer.status >= 500 && answer.code !== 'SERVICE_BUSY') {
    // Our own SERVICE_UNAVAILABLE (the shared limits' Redis is down) was logged once, when the outage began: a
    // line per refused request would bury everything else for the whole outage.
    const reported = error instanceof AuthError && error.code === 'SERVICE_UNAVAILABLE';
    if (!reported) request.log.error({ error: errorForLog(error) }, 'request failed');
    const requestId = answer.code === 'SERVICE_UNAVAILABLE' ? {} : { requestId: request.id };
    return reply.status(answer.status).send({ message: answer.message, ...requestId });
  }
  return reply.status(answer.status).send({ message: answer.message });
}

/** Installs the error and not-found handlers on the instance. */
export function registerErrorHandlers(app: FastifyInstance): void {
  app.setNotFoundHandler((_request, reply) => {
    void reply.status(ERROR_CATALOGUE.NOT_FOUND.status).send({ message: ERROR_CATALOGUE.NOT_FOUND.message });
  });
  app.setErrorHandler(answerError);
}

/**
 * Fastify's `frameworkErrors` option: errors its router raises before any route runs. Its default answer for a
 * URL that does not decode (`GET /%`) echoes the whole URL, query string included, in a different JSON shape.
 */
export function answerFrameworkError(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const known = error.code === 'FST_ERR_BAD_URL' ? new AuthError('BAD_USER_INPUT', 'malformed URL') : error;
  // The router refused the request before the onRequest hooks that add the security headers ran.
  addSecurityHeaders(request, reply);
  void answerError(known, request, reply);
}

/** What Node's HTTP parser may refuse before Fastify sees a request, and how we answer each. */
const CLIENT_ERRORS: Readonly<Record<string, ErrorCode>> = {
  ERR_HTTP_REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
  HPE_HEADER_OVERFLOW: 'HEADERS_TOO_LARGE',
};

/**
 * Fastify's `clientErrorHandler` option: the connection-level refusals (malformed HTTP, oversized headers, a
 * request that took too long to arrive) answered in the same `{"message": ...}` shape as everything else,
 * then the connection is closed, since the parser can no longer tell where the next request would start.
 */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  // The peer is gone already: nothing to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const code: ErrorCode =
    (error.code === undefined ? undefined : CLIENT_ERRORS[error.code]) ?? 'BAD_USER_INPUT';
  const { status } = ERROR_CATALOGUE[code];
  const message = code === 'BAD_USER_INPUT' ? 'malformed HTTP request' : ERROR_CATALOGUE[code].message;
  const body = JSON.stringify({ message });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
