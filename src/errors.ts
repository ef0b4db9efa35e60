// The one catalogue of error codes: each stable UPPER_SNAKE code with its HTTP status and default message.

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
  // The database cannot be reached (see src/database/errors.ts): an outage, not a bug and not the client's fault.
  // The client is told so and when to retry; the operator gets the error in the log.
  SERVICE_UNAVAILABLE: { status: 503, message: 'database unavailable, try again shortly' },
} as const satisfies Record<string, { status: number; message: string }>;

/** A stable error code from the catalogue. */
export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** How long a client is told to wait while the database cannot be reached (Retry-After). */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/**
 * An expected failure as a value: what a use case returns when failing is part of normal operation (a wrong
 * password, a taken email, a limit reached). The transports map it through the catalogue; it says nothing more than
 * a client may know. Anything a security log needs besides (why, which account) travels beside it, never in it.
 */
export interface Failure {
  readonly ok: false;
  readonly code: ErrorCode;
  /** A message safe to show, when the catalogue's default says too little ("password must be at least..."). */
  readonly message?: string;
  /** For RATE_LIMITED, SERVICE_BUSY and SERVICE_UNAVAILABLE: whole seconds before a retry can succeed. */
  readonly retryAfterSeconds?: number;
}

/** A use case that went as asked, with what it made. */
export interface Success<T> {
  readonly ok: true;
  readonly value: T;
}

/** What a use case returns: its value, or an expected failure. Faults are thrown, never returned. */
export type Result<T> = Success<T> | Failure;

/** A success carrying `value`. */
export function succeed<T>(value: T): Success<T> {
  return { ok: true, value };
}

/** An expected failure with the catalogue's message, or `message` when it must say more. */
export function fail(code: ErrorCode, message?: string): Failure {
  return message === undefined ? { ok: false, code } : { ok: false, code, message };
}

/** A refusal the client may retry after the given time, at least a second. */
export function failRetryLater(
  code: 'RATE_LIMITED' | 'SERVICE_BUSY' | 'SERVICE_UNAVAILABLE',
  retryAfterMs: number,
  message?: string,
): Failure {
  return { ...fail(code, message), retryAfterSeconds: retryAfterSeconds(retryAfterMs) };
}

function retryAfterSeconds(retryAfterMs: number): number {
  return Math.max(1, Math.ceil(retryAfterMs / 1000));
}

/** The 5xx codes whose message is shown anyway: "retry later" is all they say, and all the client needs. */
const EXPOSED_SERVER_ERRORS: ReadonlySet<ErrorCode> = new Set(['SERVICE_BUSY', 'SERVICE_UNAVAILABLE']);

/**
 * A catalogue error as a thrown value. The transports throw it at their edge (a Failure a use case returned, a
 * missing session) so that Fastify's error handler and Apollo's formatError answer it; a few faults that are not
 * the client's doing are thrown as one too (SERVICE_BUSY from the hashing gate, SERVICE_UNAVAILABLE from the
 * limits' store). `message` is safe to show to a client (it never contains a password, hash or token); 5xx codes
 * never show theirs.
 */
export class AuthError extends Error {
  readonly code: ErrorCode;
  /** For RATE_LIMITED, SERVICE_BUSY and SERVICE_UNAVAILABLE: whole seconds before a retry can succeed (Retry-After). */
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, message?: string, details: { retryAfterSeconds?: number } = {}) {
    super(message ?? ERROR_CATALOGUE[code].message);
    this.name = 'AuthError';
    this.code = code;
    this.retryAfterSeconds = details.retryAfterSeconds;
  }

  /** A refusal the client may retry after the given time (RATE_LIMITED, SERVICE_BUSY), at least a second. */
  static retryLater(
    code: 'RATE_LIMITED' | 'SERVICE_BUSY' | 'SERVICE_UNAVAILABLE',
    retryAfterMs: number,
    message?: string,
  ): AuthError {
    return new AuthError(code, message, { retryAfterSeconds: retryAfterSeconds(retryAfterMs) });
  }

  /** The failure a use case returned, as the error the transports answer. */
  static from(failure: Failure): AuthError {
    return new AuthError(
      failure.code,
      failure.message,
      failure.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: failure.retryAfterSeconds },
    );
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

/** The value of a result, or its failure thrown as an AuthError: for callers whose contract is to throw. */
export function valueOrThrow<T>(result: Result<T>): T {
  if (!result.ok) throw AuthError.from(result);
  return result.value;
}
