// What a client is told about any thrown value: the one translation both transports answer through.
import { ERROR_CATALOGUE, AuthError, DATABASE_RETRY_AFTER_SECONDS, type ErrorCode } from '../errors';
import { isDatabaseUnavailable } from '../database';

/** The status, code and message a client gets, and when to retry. */
export interface PublicError {
  readonly code: ErrorCode;
  readonly status: number;
  readonly message: string;
  readonly retryAfterSeconds?: number;
}

/**
 * The status and body a client gets for any thrown value: catalogue errors keep their message, an unreachable
 * database is SERVICE_UNAVAILABLE with a retry delay (both transports answer it through here), the rest are hidden.
 * It lives with the use cases, not in errors.ts, because telling an outage from a bug needs the database's error
 * types, and errors.ts must stay a leaf that imports nothing.
 */
export function publicError(error: unknown): PublicError {
  if (error instanceof AuthError && error.exposed) {
    const { code, status, message, retryAfterSeconds } = error;
    return { code, status, message, ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }) };
  }
  if (isDatabaseUnavailable(error)) {
    const { status, message } = ERROR_CATALOGUE.SERVICE_UNAVAILABLE;
    return { code: 'SERVICE_UNAVAILABLE', status, message, retryAfterSeconds: DATABASE_RETRY_AFTER_SECONDS };
  }
  const { status, message } = ERROR_CATALOGUE.INTERNAL_SERVER_ERROR;
  return { code: 'INTERNAL_SERVER_ERROR', status, message };
}
