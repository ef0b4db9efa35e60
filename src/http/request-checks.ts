// Refusals every request goes through before its body is read: a repeated Host header, and browsers' cross-site writes.
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { AuthError, ERROR_CATALOGUE } from '../errors';

/** Settings of the checks: the origins whose pages may write to us from another site. */
export interface RequestCheckOptions {
  /** CORS_ORIGINS: exact `scheme://host[:port]` strings, as browsers send them in `Origin`. */
  readonly corsOrigins: readonly string[];
}

/** The GraphQL endpoint's path: its refusals are answered in GraphQL's shape. */
const GRAPHQL_PATH = '/graphql';

/**
 * The GraphQL answer to a cross-site request, serialised once: an Apollo client reads `extensions.code` from an
 * `errors` list, not the REST shim's `{"message": ...}`.
 */
const GRAPHQL_CROSS_SITE_BODY = JSON.stringify({
  errors: [
    { message: ERROR_CATALOGUE.CROSS_SITE_REQUEST.message, extensions: { code: 'CROSS_SITE_REQUEST' } },
  ],
});

/** OR'ed into an ASCII letter's char code, this gives its lower case; no other character maps onto a letter. */
const ASCII_LOWER_CASE_BIT = 0x20;
const HOST = 'host';

/** Whether a raw header name is `host` in any case, compared char by char so that no string is allocated. */
function isHostName(name: string): boolean {
  if (name.length !== HOST.length) return false;
  for (let index = 0; index < HOST.length; index += 1) {
    if ((name.charCodeAt(index) | ASCII_LOWER_CASE_BIT) !== HOST.charCodeAt(index)) return false;
  }
  return true;
}

/**
 * Whether the request has more than one Host field line. Node keeps the first and silently drops the others, so
 * a proxy that routed on the last one and this server would disagree about which site was asked for; RFC 9112
 * §3.2 says to answer 400. Identical lines are refused too: the RFC counts lines, not values.
 */
function hasRepeatedHost(rawHeaders: readonly string[]): boolean {
  let seen = false;
  // rawHeaders is [name, value, name, value, ...].
  for (let index = 0; index < rawHeaders.length; index += 2) {
    if (!isHostName(rawHeaders[index])) continue;
    if (seen) return true;
    seen = true;
  }
  return false;
}

/** Methods that must not change anything, so another site's page may send them: links, images, preflights. */
function isSafeMethod(method: string | undefined): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
}

/**
 * Whether `origin` names this server: its host (hostname and port, default ports left out as URL does) equals the
 * host the request was sent to. The scheme is not compared on purpose: behind a proxy that ends TLS, without TRUST_PROXY, we see
 * http while the browser's Origin says https, and our own pages would be refused. What the scheme would add, an
 * http page on our host posting to https, Sec-Fetch-Site already reports (it compares schemes: such a request is
 * cross-site, not same-origin), and that is refused before this runs. `Origin: null` (sandboxed frames, file:
 * pages, redirects across origins) and anything else that does not parse name nobody, so they are not ours.
 */
function isOwnOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined || !URL.canParse(origin)) return false;
  return new URL(origin).host === host.toLowerCase();
}

/**
 * Whether a browser sent this unsafe request on behalf of a page of another origin that CORS_ORIGINS does not
 * list. Browsers send Sec-Fetch-Site and Origin themselves and page scripts cannot change either (both are
 * forbidden header names), so a page elsewhere cannot pass for ours. Clients other than browsers (curl, servers,
 * Node's Apollo Client) send neither header and are served as before: they hold no visitor's cookies, so there is
 * nobody for them to act as.
 */
function isRefusedCrossSite(request: FastifyRequest, listedOrigins: ReadonlySet<string>): boolean {
  const { origin } = request.headers;
  // The operator trusts a listed app with its users' sessions (it gets credentialed CORS): it may also write to us
  // from its own site, which is what a listed app on app.example.com calling api.example.com does.
  if (origin !== undefined && listedOrigins.has(origin)) return false;
  const fetchSite = request.headers['sec-fetch-site'];
  // `same-site` is refused as well: a sibling subdomain (or another port on the same host) is a different app,
  // possibly someone else's. Any value but the two that mean "this origin" or "the user typed it" is refused
  // (fail closed); browsers only ever send one of the four the Fetch Metadata spec defines.
  if (fetchSite !== undefined && fetchSite !== 'same-origin' && fetchSite !== 'none') return true;
  // Older browsers send no Sec-Fetch-Site but do send Origin on a form POST: it must then be ours.
  // Fastify's host: the Host header, or X-Forwarded-Host when the peer is a proxy named in TRUST_PROXY, so a proxy
  // that rewrites Host for its upstream does not make our own pages look foreign.
  return origin !== undefined && !isOwnOrigin(origin, request.host);
}

/** Whether the request is for the GraphQL endpoint, with or without a query string. */
function isGraphQLPath(url: string): boolean {
  return (
    url.startsWith(GRAPHQL_PATH) && (url.length === GRAPHQL_PATH.length || url[GRAPHQL_PATH.length] === '?')
  );
}

/**
 * Answers a refused cross-site request. REST routes go through the error handler like any other refusal; GraphQL
 * gets its own shape with the catalogue code. Neither is logged as an error: it is the client's doing, and the
 * request's one log line already shows the 403.
 */
function refuseCrossSite(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
  if (!isGraphQLPath(request.url)) return done(new AuthError('CROSS_SITE_REQUEST'));
  // An early answer from a callback hook: send, and do not call done, so no later hook or handler runs.
  void reply
    .status(ERROR_CATALOGUE.CROSS_SITE_REQUEST.status)
    .type('application/json; charset=utf-8')
    .send(GRAPHQL_CROSS_SITE_BODY);
}

/**
 * Registers the checks as an onRequest hook on every route, REST and GraphQL. Call it after registerSecurity, so
 * that its refusals already carry the security headers, Cache-Control and X-Request-Id. onRequest runs before the
 * body is read, so a refused request creates no account or session and sends no mail.
 *
 * - More than one Host line: `400 {"message":"duplicate Host header"}`.
 * - An unsafe method (not GET, HEAD or OPTIONS) that a browser sent from another site or origin, unless its Origin
 *   is listed in `corsOrigins`: `403 {"message":"cross-site request refused"}`, or on /graphql
 *   `{"errors":[{"message":"cross-site request refused","extensions":{"code":"CROSS_SITE_REQUEST"}}]}`.
 *
 * This closes login CSRF (ASVS 5.0 §3.5.1): SameSite=Lax keeps the cookie off another site's form POST, but the
 * answer to that top-level navigation would still set one, signing the visitor in to the attacker's account.
 * Safe methods get only the Host scan, since the hot read (GET /profile) runs through here.
 */
export function registerRequestChecks(app: FastifyInstance, options: RequestCheckOptions): void {
  const listedOrigins: ReadonlySet<string> = new Set(options.corsOrigins);
  app.addHook('onRequest', (request, reply, done) => {
    if (hasRepeatedHost(request.raw.rawHeaders)) {
      return done(new AuthError('BAD_USER_INPUT', 'duplicate Host header'));
    }
    // Preflights (OPTIONS) must reach @fastify/cors untouched, and reads change nothing another site could abuse.
    if (isSafeMethod(request.raw.method) || !isRefusedCrossSite(request, listedOrigins)) return done();
    refuseCrossSite(request, reply, done);
  });
}
