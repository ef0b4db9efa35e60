// What a log line may contain: one line per request, redacted headers, and errors scrubbed of secrets.
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

const MICROSECONDS_PER_MS = 1000;

/** Header paths pino replaces before a line is written: session cookies must never reach a log. */
export const REDACTED_PATHS = [
  'req.headers.cookie',
  'req.headers.authorization',
  'res.headers["set-cookie"]',
  'headers.cookie',
  'headers.authorization',
];

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

/**
 * The request as logged: method and path only. The query string is dropped because GET /graphql can carry
 * variables there, and headers are left out altogether (cookies live in them).
 */
export function serializeRequest(request: {
  method: string;
  url: string;
  ip?: string;
}): Record<string, unknown> {
  const queryStart = request.url.indexOf('?');
  return {
    method: request.method,
    url: queryStart === -1 ? request.url : request.url.slice(0, queryStart),
    remoteAddress: request.ip,
  };
}

/** The response as logged: the status code only (never Set-Cookie). */
export function serializeReply(reply: { statusCode: number }): Record<string, unknown> {
  return { statusCode: reply.statusCode };
}

/**
 * Writes exactly one line per request, when it completes, instead of Fastify's two (incoming + completed):
 * half the logging cost on every request, and the one line still has the request id, route and status.
 */
export class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    const responseTimeMs = Math.round(reply.elapsedTime * MICROSECONDS_PER_MS) / MICROSECONDS_PER_MS;
    // The logger's serializers (serializeRequest/serializeReply, set in app.ts) shape these.
    const fields = { req: request, res: reply, responseTimeMs };
    if (error) request.log.error({ ...fields, error: errorForLog(error) }, 'request errored');
    else request.log.info(fields, 'request completed');
  }
}
