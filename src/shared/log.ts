// Logging that every module shares: the logger shape domain code writes to, and errors scrubbed of secrets.

/** One log call: structured fields first, or a bare message, as pino takes them. */
export interface LogFn {
  (fields: object, message?: string): void;
  (message: string): void;
}

/**
 * The logger domain modules write to. Fastify's request and server loggers (pino) have this shape; declaring it
 * here keeps Fastify out of every module below the transports.
 */
export interface Logger {
  readonly error: LogFn;
  readonly warn: LogFn;
  readonly info: LogFn;
  readonly debug: LogFn;
  /** A logger whose lines also carry `bindings` (a request id, say). */
  child(bindings: Record<string, unknown>): Logger;
}

// Values that look like secrets we handle: bcrypt hashes, our 43-character tokens, SHA-256 hex digests,
// and any quoted SQL literal (database errors quote the parameters of the failing statement).
const SECRET_PATTERNS: readonly RegExp[] = [
  /\$2[aby]?\$\d{2}\$[./A-Za-z0-9]{53}/g,
  /(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g,
  /(?<![a-f0-9])[a-f0-9]{64}(?![a-f0-9])/gi,
  /'(?:[^']|'')*'/g,
];

/** Replaces anything that looks like a password hash, token or SQL literal with `[redacted]`. */
export function scrubSecrets(text: string): string {
  return SECRET_PATTERNS.reduce((out, pattern) => out.replace(pattern, '[redacted]'), text);
}

/**
 * A loggable view of an unexpected error. Database drivers put the failing statement and its values in the
 * message, and those values can be hashes or tokens, so message and stack are scrubbed before logging.
 */
export function errorForLog(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { type: typeof error };
  const code = (error as { code?: unknown }).code;
  return {
    type: error.name,
    ...(typeof code === 'string' ? { code } : {}),
    message: scrubSecrets(error.message),
    stack: error.stack === undefined ? undefined : scrubSecrets(error.stack),
  };
}
