// The GraphQL playground: GraphiQL's page at GET /graphql for browsers, and its bundle, served by this server.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import { PLAYGROUND_CSP, cspHeader } from './security';

/** Where the bundle is served: under /graphql, so a proxy that forwards /graphql forwards the playground too. */
export const PLAYGROUND_ASSET_PATH = '/graphql/playground';

/** The files scripts/build-playground.mjs writes, and the types they are served as (nosniff: they must be right). */
const ASSET_TYPES: Readonly<Record<string, string>> = {
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

/**
 * Where the build puts the bundle, dist/public/playground, as seen from this module: compiled, it is
 * dist/src/http/playground.js; run from source (ts-jest), it is src/http/playground.ts and the bundle is still
 * the build's.
 */
const ASSET_DIR_CANDIDATES = [
  join(__dirname, '..', '..', 'public', 'playground'),
  join(__dirname, '..', '..', 'dist', 'public', 'playground'),
];

/** The bundle's files by name, read once per process: every test app would otherwise read 1.8 MB again. */
const loaded = new Map<string, ReadonlyMap<string, Buffer>>();

/**
 * Reads the bundle from `dir`, or from the build's folder.
 * @throws Error naming the command that builds it when it is missing.
 */
function loadAssets(dir?: string): ReadonlyMap<string, Buffer> {
  const found = dir ?? ASSET_DIR_CANDIDATES.find((candidate) => existsSync(join(candidate, 'app.js')));
  const cached = found === undefined ? undefined : loaded.get(found);
  if (cached !== undefined) return cached;
  const files = Object.keys(ASSET_TYPES);
  if (found === undefined || !files.every((name) => existsSync(join(found, name)))) {
    throw new Error(
      `the GraphQL playground is not built (no ${files.join(', ')} in ${dir ?? ASSET_DIR_CANDIDATES[0]}): ` +
        'run `npm run build`, or set PLAYGROUND=false',
    );
  }
  const assets = new Map(files.map((name) => [name, readFileSync(join(found, name))]));
  loaded.set(found, assets);
  return assets;
}

/**
 * The page: no inline script or style (the CSP allows neither), only the bundle from this origin. The one
 * setting the bundle needs travels in a data- attribute.
 */
function pageHtml(introspection: boolean): string {
  return `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>GraphQL playground · user-auth-service</title>
    <link rel="icon" href="data:," />
    <link rel="stylesheet" href="${PLAYGROUND_ASSET_PATH}/app.css" />
    <script src="${PLAYGROUND_ASSET_PATH}/app.js" defer></script>
  </head>
  <body>
    <noscript>The GraphQL playground needs JavaScript. POST /graphql works without it.</noscript>
    <div id="playground" data-introspection="${String(introspection)}"></div>
  </body>
</html>
`;
}

/** The media types Apollo answers operations in: an Accept header preferring one of them wants JSON. */
const OPERATION_TYPES = new Set(['application/json', 'application/graphql-response+json', 'multipart/mixed']);

/**
 * Whether an Accept header prefers HTML to every type Apollo answers operations in, as a browser navigating to
 * the URL does (`text/html,...`). Only an explicit text/html counts: a wildcard (`*\/*`, what fetch and curl
 * send) is a client that takes anything, and it gets JSON. Equal weights go to the one listed first.
 */
export function prefersHtml(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  let html: { weight: number; position: number } | undefined;
  let operation: { weight: number; position: number } | undefined;
  for (const [position, entry] of accept.split(',').entries()) {
    const [type = '', ...parameters] = entry.split(';').map((part) => part.trim().toLowerCase());
    const q = parameters.find((parameter) => parameter.startsWith('q='));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    if (!Number.isFinite(weight)) continue;
    if (type === 'text/html') html ??= { weight, position };
    else if (OPERATION_TYPES.has(type) && (operation === undefined || weight > operation.weight)) {
      operation = { weight, position };
    }
  }
  if (html === undefined || html.weight <= 0) return false;
  if (operation === undefined) return true;
  return (
    html.weight > operation.weight || (html.weight === operation.weight && html.position < operation.position)
  );
}

/**
 * Whether a request to the GraphQL route is a browser opening the playground: a GET preferring HTML, without a
 * `query` parameter. A GET that carries an operation (`?query=`) is Apollo's, whatever it accepts.
 */
function wantsPage(request: FastifyRequest): boolean {
  if (request.method !== 'GET' || !prefersHtml(request.headers.accept)) return false;
  const query = request.query;
  return !(typeof query === 'object' && query !== null && 'query' in query);
}

/** Settings of the playground. */
export interface PlaygroundOptions {
  /** Whether the API answers introspection; without it the page does not fetch the schema. */
  readonly introspection: boolean;
  /** Where the built bundle is (default: dist/public/playground). */
  readonly assetDir?: string;
}

/**
 * Registers the bundle's routes (`/graphql/playground/app.js` and `app.css`) and returns the onRequest hook that
 * serves the page. Apollo's integration owns the GET /graphql route, so the hook goes in the scope holding that
 * route: it answers only the requests {@link prefersHtml} marks as a browser's, and lets every other one through
 * to Apollo. Call it only when the playground is on: off, there is no page and the bundle's URLs are 404s.
 * @throws Error when the bundle has not been built.
 */
export function registerPlayground(app: FastifyInstance, options: PlaygroundOptions): onRequestHookHandler {
  const assets = loadAssets(options.assetDir);
  for (const [name, body] of assets) {
    const type = ASSET_TYPES[name] ?? 'application/octet-stream';
    // The global Cache-Control: no-store stays: the bundle is small next to a rebuild's confusion over stale files.
    app.get(`${PLAYGROUND_ASSET_PATH}/${name}`, (_request, reply) => reply.type(type).send(body));
  }
  const html = pageHtml(options.introspection);
  // Its own CSP, instead of the API's 'none' for everything: the page runs our bundle (script-src 'self'), styles
  // itself, and calls /graphql, and still can load nothing from anywhere else (see PLAYGROUND_CSP).
  const csp = cspHeader(PLAYGROUND_CSP);
  return (request, reply, done) => {
    if (!wantsPage(request)) {
      done();
      return;
    }
    // Answered from the hook, so Apollo never sees the request; done() is not called after a reply.
    void reply.header('content-security-policy', csp).type('text/html; charset=utf-8').send(html);
  };
}
