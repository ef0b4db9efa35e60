// HTTP hardening shared by every route: security headers (helmet, CSP), no caching, request ids, and CORS.
import cors from '@fastify/cors';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';

/** A CSP as directive name → sources, the form helmet takes. */
export type CspDirectives = Readonly<Record<string, readonly string[]>>;

/**
 * The CSP of every API response. JSON needs no sources at all, so everything is 'none': if a response were ever
 * rendered as a page (a browser opening an error, a sniffed type), no script, style, frame or form could run
 * from it, and no other site may frame it.
 */
export const API_CSP: CspDirectives = {
  'default-src': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
  'frame-ancestors': ["'none'"],
};

/**
 * The CSP of the playground's page (GET /graphql from a browser, see playground.ts), and of nothing else. Every
 * byte it needs comes from this server, so every source is 'self' or 'none': no CDN, no font service, nothing a
 * third party could change or watch. A CDN would make every developer's browser fetch code we never reviewed,
 * on a page that holds a signed-in session.
 */
export const PLAYGROUND_CSP: CspDirectives = {
  'default-src': ["'none'"],
  // Our bundle only: no inline script, no eval. The page passes its one setting in a data- attribute.
  'script-src': ["'self'"],
  // Our stylesheet only: no 'unsafe-inline', which would let injected markup style (and so disguise) the page.
  // GraphiQL and CodeMirror 5 style elements through the CSSOM (element.style), which CSP does not govern; the one
  // <style> element GraphiQL would add (Radix's scroll lock) is built as a constructed stylesheet instead
  // (web/playground/style-singleton.ts). The browser test fails on any CSP violation.
  'style-src': ["'self'"],
  // GraphiQL's icons and fonts are data: URIs inside its stylesheet.
  'img-src': ["'self'", 'data:'],
  'font-src': ["'self'", 'data:'],
  // Operations go to /graphql on this origin only, so a page script could not send a session's data elsewhere.
  'connect-src': ["'self'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
  // Nothing may frame the page: a framed playground under another site's UI is a clickjacking tool.
  'frame-ancestors': ["'none'"],
};

/** A CSP header value from directives. */
export function cspHeader(directives: CspDirectives): string {
  return Object.entries(directives)
    .map(([name, sources]) => `${name} ${sources.join(' ')}`)
    .join('; ');
}

/** The headers of ours that every answer carries, besides helmet's. */
function addOwnHeaders(request: FastifyRequest, reply: FastifyReply): void {
  // HSTS only over HTTPS (RFC 6797 §7.2: browsers ignore it over plain HTTP, and on http://localhost in
  // development it only misleads). Behind a TLS-terminating proxy, TRUST_PROXY lets X-Forwarded-Proto say https.
  if (request.protocol !== 'https') reply.raw.removeHeader('strict-transport-security');
  // Answers carry session cookies, emails and reset tokens: no browser or proxy cache may keep one.
  void reply.header('cache-control', 'no-store');
  // Lets a client quote the id of any answer, and an operator find its log lines.
  void reply.header('x-request-id', request.id);
}

/** helmet's settings, applied once per answer by addSecurityHeaders. */
const HELMET_OPTIONS: HelmetOptions = {
  contentSecurityPolicy: { useDefaults: false, directives: { ...API_CSP } },
  // Cross-origin clients are governed by CORS; same-origin resource policy would only block no-cors loads.
  crossOriginResourcePolicy: { policy: 'same-origin' },
  // Nothing here is meant to be framed; X-Frame-Options says so to browsers too old for frame-ancestors.
  frameguard: { action: 'deny' },
};

/** helmet as a plain function of the raw request and response, built once. */
const applyHelmet = helmet(HELMET_OPTIONS);

/**
 * Adds every security header to an answer: from the onRequest hook for every routed request, and directly for
 * answers made before any hook ran (Fastify's router errors, such as a URL that does not decode), so that no
 * answer of ours goes out without them.
 */
export function addSecurityHeaders(request: FastifyRequest, reply: FastifyReply): void {
  // helmet sets its headers on the raw response at once and calls back synchronously; nothing can fail there.
  applyHelmet(request.raw, reply.raw, () => undefined);
  addOwnHeaders(request, reply);
}

/** Headers a cross-origin Apollo Client may send: content type, and Apollo's CSRF-prevention headers. */
const CORS_ALLOWED_HEADERS = ['content-type', 'apollo-require-preflight', 'x-apollo-operation-name'];

/**
 * Registers the security headers on every response and, when `corsOrigins` lists any, CORS for exactly those
 * origins. With no list there is no CORS at all: browsers then keep every other origin from reading responses
 * or sending credentialed JSON, which is the safe default for a cookie-authenticated API.
 */
export async function registerSecurity(
  app: FastifyInstance,
  options: { corsOrigins: readonly string[] },
): Promise<void> {
  // One helmet middleware, built once at start (applyHelmet), serves every request. @fastify/helmet builds a new
  // one on each request, parsing the CSP again, which cost about a quarter of GET /profile's throughput (bench/).
  app.addHook('onRequest', (request, reply, done) => {
    addSecurityHeaders(request, reply);
    done();
  });

  if (options.corsOrigins.length === 0) return;
  const allowed = new Set(options.corsOrigins);
  await app.register(cors, {
    // Only a listed origin gets CORS headers, credentials included; any other gets none and the browser refuses.
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin)),
    credentials: true,
    methods: ['GET', 'POST', 'PUT', 'DELETE'],
    allowedHeaders: CORS_ALLOWED_HEADERS,
    exposedHeaders: ['retry-after', 'x-request-id'],
    maxAge: 600,
  });
}
