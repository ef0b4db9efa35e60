// The one place HTTP errors become answers: catalogue codes keep their status and message, everything else is hidden.
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance } from 'fastify';
import { AuthError, ERROR_CATALOGUE, publicError } from '../errors';
import { errorForLog } from './logging';

/** Fastify's own 4xx errors (body parsing, content type, size) in our catalogue's words. */
function fromFastifyError(error: FastifyError): AuthError | null {
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
 * Installs the error and not-found handlers. Every error answer is JSON `{"message": ...}`. A 5xx never shows
 * its message or stack (they can name tables, queries or values); it is logged, scrubbed, under the request id,
 * and the answer carries that id so an operator can find the line.
 */
export function registerErrorHandlers(app: FastifyInstance): void {
  app.setNotFoundHandler((_request, reply) => {
    void reply.status(ERROR_CATALOGUE.NOT_FOUND.status).send({ message: ERROR_CATALOGUE.NOT_FOUND.message });
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const known = error instanceof AuthError ? error : fromFastifyError(error);
    const answer = publicError(known ?? error);
    if (answer.status >= 500) {
      request.log.error({ error: errorForLog(error) }, 'request failed');
      return reply.status(answer.status).send({ message: answer.message, requestId: request.id });
    }
    return reply.status(answer.status).send({ message: answer.message });
  });
}
