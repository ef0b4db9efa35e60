// Request body parsers for JSON and forms: strict UTF-8, only the utf-8 charset, no content encodings.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AuthError } from '../errors';

// fatal: invalid bytes throw instead of becoming U+FFFD. Lenient decoding would map different invalid
// passwords ("p\xe4ss...", "p\xfcss...") to the same string, so either would log in to the other's account.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const CHARSET_PARAMETER = /;\s*charset\s*=\s*"?([^";\s]*)/i;
const UTF8_NAMES: ReadonlySet<string> = new Set(['utf-8', 'utf8']);

/**
 * The body as text, or an AuthError: 415 for a compressed body or a charset other than UTF-8 (we would read
 * either wrongly rather than refuse it), 400 for bytes that are not UTF-8.
 */
function decodeBody(request: FastifyRequest, body: Buffer): string {
  const encoding = request.headers['content-encoding'];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
    throw new AuthError('UNSUPPORTED_MEDIA_TYPE', 'unsupported content encoding: send the body uncompressed');
  }
  const charset = CHARSET_PARAMETER.exec(request.headers['content-type'] ?? '')?.[1];
  if (charset !== undefined && !UTF8_NAMES.has(charset.toLowerCase())) {
    throw new AuthError('UNSUPPORTED_MEDIA_TYPE', 'unsupported charset: send the body as utf-8');
  }
  try {
    return strictUtf8.decode(body);
  } catch {
    throw new AuthError('BAD_USER_INPUT', 'request body is not valid UTF-8');
  }
}

/** One `+`-for-space, percent-encoded form component, decoded strictly (bad escapes or bad UTF-8 throw). */
function decodeFormComponent(component: string): string {
  try {
    return decodeURIComponent(component.replace(/\+/g, ' '));
  } catch {
    throw new AuthError('BAD_USER_INPUT', 'malformed form body: bad percent-encoding or UTF-8');
  }
}

/**
 * Parses `application/x-www-form-urlencoded` text as `curl -d` sends it. A repeated key becomes an array (so a
 * route can refuse it); the object has no prototype, so keys like `__proto__` are plain keys.
 */
export function parseForm(text: string): Record<string, string | string[]> {
  const fields: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const separator = pair.indexOf('=');
    const key = decodeFormComponent(separator === -1 ? pair : pair.slice(0, separator));
    const value = decodeFormComponent(separator === -1 ? '' : pair.slice(separator + 1));
    const existing = fields[key];
    if (existing === undefined) fields[key] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else fields[key] = [existing, value];
  }
  return fields;
}

/**
 * Replaces Fastify's body parsers with ours: JSON (Fastify's own parser, which refuses prototype poisoning, fed
 * with strictly decoded text) and forms. Every other content type is refused with 415.
 */
export function registerBodyParsers(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body: Buffer, done) => {
    let text: string;
    try {
      text = decodeBody(request, body);
    } catch (error) {
      done(error as AuthError, undefined);
      return;
    }
    void parseJson(request, text, done);
  });
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'buffer' },
    (request, body: Buffer, done) => {
      try {
        done(null, parseForm(decodeBody(request, body)));
      } catch (error) {
        done(error as AuthError, undefined);
      }
    },
  );
}
