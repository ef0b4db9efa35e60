// The GraphQL playground over HTTP: who gets the page at GET /graphql, its CSP and bundle, and when it is off.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type LightMyRequestResponse } from 'fastify';
import { registerPlayground } from '../../src/http/playground';
import { createTestApp, type TestApp } from '../helpers/test-app';

/** The page's CSP, exactly: everything from this origin, nothing inline, nothing from anywhere else. */
const PLAYGROUND_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self' data:; " +
  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** The CSP of every API answer, as helmet writes it. */
const API_CSP = "default-src 'none';base-uri 'none';form-action 'none';frame-ancestors 'none'";

/** The headers every answer carries besides its CSP, the page included. */
const OTHER_SECURITY_HEADERS = {
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/** What Chromium sends when it navigates to a URL. */
const BROWSER_ACCEPT =
  'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8';

/** Apollo's answer to a GET without an operation: CSRF prevention refuses it before looking for one. */
const APOLLO_REFUSAL = {
  errors: [
    {
      message:
        'This operation has been blocked as a potential Cross-Site Request Forgery (CSRF). Please either specify a ' +
        "'content-type' header (with a type that is not one of application/x-www-form-urlencoded, " +
        'multipart/form-data, text/plain) or provide a non-empty value for one of the following headers: ' +
        'x-apollo-operation-name, apollo-require-preflight\n',
      extensions: { code: 'BAD_REQUEST' },
    },
  ],
};

/** The bundle as the build wrote it (jest's global setup runs the build). */
const BUNDLE_DIR = join(__dirname, '..', '..', 'dist', 'public', 'playground');

/** GET `url` with an Accept header, as a browser (or another client) sends it. */
function get(app: TestApp, url: string, accept?: string): Promise<LightMyRequestResponse> {
  return app.server.inject({ method: 'GET', url, headers: accept === undefined ? {} : { accept } });
}

/** Asserts Apollo's refusal of a GET without an operation, in JSON with the API's CSP: no page. */
function expectApolloRefusal(response: LightMyRequestResponse): void {
  expect([response.statusCode, response.json()]).toEqual([400, APOLLO_REFUSAL]);
  // application/graphql-response+json when the client asked for it first.
  expect(response.headers['content-type']).toMatch(/^application\/(graphql-response\+)?json; charset=utf-8$/);
  expect(response.headers['content-security-policy']).toBe(API_CSP);
}

/** Asserts the playground page, with its own CSP and every other security header. */
function expectPage(response: LightMyRequestResponse): void {
  expect(response.statusCode).toBe(200);
  expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(response.headers).toMatchObject({
    ...OTHER_SECURITY_HEADERS,
    'content-security-policy': PLAYGROUND_CSP,
  });
}

describe('the playground when on (the default outside production)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp({ NODE_ENV: 'development' });
  });
  afterAll(async () => {
    await app.close();
  });

  it('serves GraphiQL to a browser opening GET /graphql, with the exact CSP and every other security header', async () => {
    const page = await get(app, '/graphql', BROWSER_ACCEPT);
    expectPage(page);
    expect(page.body).toMatch(/^<!DOCTYPE html>/);
    expect(page.body).toContain('<script src="/graphql/playground/app.js" defer></script>');
    expect(page.body).toContain('<link rel="stylesheet" href="/graphql/playground/app.css" />');
    expect(page.body).toContain('<div id="playground" data-introspection="true"></div>');
  });

  it('loads nothing from another origin and has nothing inline for the CSP to refuse', async () => {
    const { body } = await get(app, '/graphql', BROWSER_ACCEPT);
    expect(body).not.toMatch(/https?:\/\//);
    expect(body).not.toMatch(/\/\/[a-z0-9.-]+\.[a-z]{2,}/i);
    // Every script has a src (no inline code), and there is no <style> element or style attribute.
    expect(body.match(/<script\b[^>]*>/g)).toEqual(['<script src="/graphql/playground/app.js" defer>']);
    expect(body).not.toMatch(/<style\b|\sstyle=|\son[a-z]+=/i);
  });

  it.each([
    ['app.js', 'text/javascript; charset=utf-8'],
    ['app.css', 'text/css; charset=utf-8'],
  ])('serves the bundle file %s as %s, exactly as built', async (name, type) => {
    const response = await get(app, `/graphql/playground/${name}`);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe(type);
    expect(response.headers).toMatchObject({ ...OTHER_SECURITY_HEADERS, 'content-security-policy': API_CSP });
    expect(response.rawPayload.equals(readFileSync(join(BUNDLE_DIR, name)))).toBe(true);
  });

  it('answers 404 for any other file under /graphql/playground/', async () => {
    for (const url of [
      '/graphql/playground/',
      '/graphql/playground/app.js.map',
      '/graphql/playground/../app.js',
    ]) {
      const response = await get(app, url);
      expect([url, response.statusCode, response.json()]).toEqual([url, 404, { message: 'not found' }]);
    }
  });

  it.each([
    ['text/html', true],
    ['text/html, application/json', true],
    ['application/json;q=0.5, text/html', true],
    ['*/*', false],
    ['application/json', false],
    ['application/json, text/html', false],
    ['text/html;q=0.5, application/json', false],
    ['application/graphql-response+json, text/html;q=0.9', false],
    ['text/html;q=0', false],
    [undefined, false],
  ])(
    'a GET /graphql with Accept %j gets the page: %s (otherwise Apollo refuses it)',
    async (accept, page) => {
      const response = await get(app, '/graphql', accept);
      if (page) expectPage(response);
      else expectApolloRefusal(response);
    },
  );

  it('lets a GET with ?query= through to Apollo even from a browser, which answers it in JSON', async () => {
    const response = await app.server.inject({
      method: 'GET',
      url: `/graphql?query=${encodeURIComponent('{ __typename }')}`,
      headers: { accept: BROWSER_ACCEPT, 'apollo-require-preflight': 'true' },
    });
    expect([response.statusCode, response.json()]).toEqual([200, { data: { __typename: 'Query' } }]);
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(response.headers['content-security-policy']).toBe(API_CSP);
  });

  it("keeps Apollo's CSRF refusal for a browser's ?query= GET without a preflight header", async () => {
    expectApolloRefusal(
      await get(app, `/graphql?query=${encodeURIComponent('{ __typename }')}`, BROWSER_ACCEPT),
    );
  });

  it('answers a POST that accepts HTML with JSON, as always', async () => {
    const response = await app.server.inject({
      method: 'POST',
      url: '/graphql',
      payload: JSON.stringify({ query: '{ __typename }' }),
      headers: { 'content-type': 'application/json', accept: BROWSER_ACCEPT },
    });
    expect([response.statusCode, response.json()]).toEqual([200, { data: { __typename: 'Query' } }]);
  });

  it('refuses a malformed Host header before serving the page', async () => {
    const response = await app.server.inject({
      method: 'GET',
      url: '/graphql',
      headers: { accept: BROWSER_ACCEPT, host: 'bad host' },
    });
    expect([response.statusCode, response.json()]).toEqual([400, { message: 'malformed Host header' }]);
  });
});

describe('the playground by NODE_ENV and PLAYGROUND', () => {
  const apps: TestApp[] = [];
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
  });

  it.each([
    ['production', {}, false],
    ['production', { PLAYGROUND: 'false' }, false],
    ['development', { PLAYGROUND: 'false' }, false],
    ['development', { GRAPHQL_LANDING_PAGE: 'false' }, false],
    ['production', { PLAYGROUND: 'true' }, true],
    ['production', { GRAPHQL_LANDING_PAGE: 'true' }, true],
    ['development', {}, true],
    ['test', {}, true],
  ])('NODE_ENV=%s with %j: playground %s', async (nodeEnv, overrides, on) => {
    const app = await createTestApp({ NODE_ENV: nodeEnv, ...overrides });
    apps.push(app);
    const page = await get(app, '/graphql', BROWSER_ACCEPT);
    const script = await get(app, '/graphql/playground/app.js');
    const style = await get(app, '/graphql/playground/app.css');
    if (on) {
      expectPage(page);
      // Production keeps introspection off, so the page is told not to fetch the schema.
      const introspection = String(nodeEnv !== 'production');
      expect(page.body).toContain(`<div id="playground" data-introspection="${introspection}"></div>`);
      expect([script.statusCode, style.statusCode]).toEqual([200, 200]);
    } else {
      // No page and no bundle: the browser's GET is Apollo's like any other, and the files do not exist.
      expectApolloRefusal(page);
      expect(page.body).not.toMatch(/<html/i);
      for (const asset of [script, style]) {
        expect([asset.statusCode, asset.json()]).toEqual([404, { message: 'not found' }]);
      }
    }
  });
});

describe('an unbuilt playground', () => {
  it('stops the start with the command that builds it', () => {
    const empty = mkdtempSync(join(tmpdir(), 'no-playground-'));
    try {
      expect(() => registerPlayground(Fastify(), { introspection: true, assetDir: empty })).toThrow(
        `the GraphQL playground is not built (no app.js, app.css in ${empty}): run \`npm run build\`, or set ` +
          'PLAYGROUND=false',
      );
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
