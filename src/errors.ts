// The one catalogue of error codes: each stable UPPER_SNAKE code with its HTTP status and default message.
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from './database/errors';

/**
 * Every error a client can see. GraphQL puts the code in `extensions.code`; the REST shim answers
 * `{"message": ...}` with the status below. Codes are API: never rename one.
 */
export const ERROR_CATALOGUE = {
  BAD_USER_INPUT: { status: 400, message: 'invalid input' },
  EMAIL_TAKEN: { status: 400, message: 'email already registered' },
  INVALID_CREDENTIALS: { status: 401, message: 'invalid email or password' },
  // 403 rather than 401 for a missing session: that is the exercise's contract for /profile and DELETE /sessions.
  UNAUTHENTICATED: { status: 403, message: 'no valid session' },
  EMAIL_NOT_REGISTERED: { status: 403, message: 'email not registered' },
  // A browser sent an unsafe request from another site (a form posted to /sessions, say): refused before anything
  // runs, so no page elsewhere can sign a visitor in, register, or send reset mail through their browser.
  CROSS_SITE_REQUEST: { status: 403, message: 'cross-site request refused' },
  INVALID_RESET_TOKEN: { status: 403, message: 'invalid or expired reset token' },
  NOT_FOUND: { status: 404, message: 'not found' },
  REQUEST_TIMEOUT: { status: 408, message: 'request took too long to arrive' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'request body too large' },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    message: 'unsupported content type: use application/x-www-form-urlencoded or application/json',
  },
  RATE_LIMITED: { status: 429, message: 'too many attempts, try again later' },
  HEADERS_TOO_LARGE: { status: 431, message: 'request headers too large' },
  // Raised by UserRepository.findUserBy (the exercise's NoResultFound): the service turns it into a
  // transport-specific answer, so reaching a client means a bug, hence "internal".
  USER_NOT_FOUND: { status: 500, message: 'internal server error' },
  // The exercise's InvalidRequestError: a query or update named a field that User does not have. Always a bug.
  INVALID_QUERY: { status: 500, message: 'internal server error' },
  INTERNAL_SERVER_ERROR: { status: 500, message: 'internal server error' },
  // Load shedding, not a fault: the client did nothing wrong and may retry after Retry-After, so it is told so.
  SERVICE_BUSY: { status: 503, message: 'service busy, try again shortly' },
  // The database cannot be reached (see src/database-errors.ts): an outage, not a bug and not the client's fault.
  // The client is told so and when to retry; the operator gets the error in the log.
  SERVICE_UNAVAILABLE: { status: 503, message: 'database unavailable, try again shortly' },
} as const satisfies Record<string, { status: number; message: string }>;

/** A stable error code from the catalogue. */
export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** The 5xx codes whose message is shown anyway: "retry later" is all they say, and all the client needs. */
const EXPOSED_SERVER_ERRORS: ReadonlySet<ErrorCode> = new Set(['SERVICE_BUSY', 'SERVICE_UNAVAILABLE']);

/**
 * An expected failure of an auth operation. `message` is safe to show to a client
 * (it never contains a password, hash or token); 5xx codes never show theirs.
 */
export class AuthError extends Error {
  readonly code: ErrorCode;
  /** For RATE_LIMITED, SERVICE_BUSY and SERVICE_UNAVAILABLE: whole seconds before a retry can succeed (Retry-After). */
  readonly retryAfterSeconds: number | undefined;

  /**
   * Why, for the security log only (UNKNOWN_EMAIL, WRONG_PASSWORD, ...): never shown to the client, where one
   * message for every login failure is what keeps registered emails secret.
   */
  readonly reason: string | undefined;
  /** The account concerned, when known; for the security log only. */
  readonly userId: number | undefined;

  constructor(
    code: ErrorCode,
    message?: string,
    details: { retryAfterSeconds?: number; reason?: string; userId?: number } = {},
  ) {
    super(message ?? ERROR_CATALOGUE[code].message);
    this.name = 'AuthError';
    this.code = code;
    this.retryAfterSeconds = details.retryAfterSeconds;
    this.reason = details.reason;
    this.userId = details.userId;
  }

  /** A refusal the client may retry after the given time (RATE_LIMITED, SERVICE_BUSY), at least a second. */
  static retryLater(
    code: 'RATE_LIMITED' | 'SERVICE_BUSY' | 'SERVICE_UNAVAILABLE',
    retryAfterMs: number,
    message?: string,
  ): AuthError {
    return new AuthError(code, message, { retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)) });
  }

  /** The HTTP status the REST shim answers with. */
  get status(): number {
    return ERROR_CATALOGUE[this.code].status;
  }

  /**
   * Whether the message may be shown to the client (4xx, SERVICE_BUSY, SERVICE_UNAVAILABLE) or must be replaced by
   * the generic one.
   */
  get exposed(): boolean {
    return this.status < 500 || EXPOSED_SERVER_ERRORS.has(this.code);
  }
}

/**
 * The status and body a client gets for any thrown value: catalogue errors keep their message, an unreachable
 * database is SERVICE_UNAVAILABLE with a retry delay (both transports answer it through here), the rest are hidden.
 */
export function publicError(error: unknown): {
  code: ErrorCode;
  status: number;
  message: string;
  retryAfterSeconds?: number;
} {
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
