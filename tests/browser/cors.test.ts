// Cross-origin apps in Chromium: an origin listed in CORS_ORIGINS uses the session cookie, an unlisted one cannot.
//
// The setup is realistic: the API listens on 127.0.0.1:<port A> and the two apps are pages served from
// 127.0.0.1:<port B> (listed) and 127.0.0.1:<port C> (not listed). Ports make them different origins but the same
// site (a site is the scheme plus the registrable domain, or the IP address; ports do not count), exactly like an
// app on https://app.example.com calling https://api.example.com. The session cookie is SameSite=Lax
// (src/http/cookies.ts), which browsers send on same-site requests, cross-origin or not; so what decides whether
// an app may use the API is CORS alone, which is what these tests observe. (An app on another site, or on
// `localhost` calling `127.0.0.1`, would be cross-site: a Lax cookie is not sent on its fetches at all.) The
// cookie gets `Secure` only with COOKIE_SECURE, which defaults to false outside production, so plain http works.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser';
import { startAppServer, type AppServer, type AppWindow, type Outcome } from '../helpers/app-page';
import { PASSWORD, uniqueEmail } from '../helpers/factories';
import { startServer, type ServerProcess } from '../helpers/server-process';

const REGISTER =
  'mutation($email: String!, $password: String!) { register(email: $email, password: $password) { email } }';
const LOGIN =
  'mutation($email: String!, $password: String!) { login(email: $email, password: $password) { email } }';
const PROFILE = '{ profile { email } }';
const LOGOUT = 'mutation { logout }';

/** What Chromium's fetch rejects with when the CORS check fails; the reason goes to the console only. */
const CORS_FAILURE = { error: 'TypeError: Failed to fetch' };

/** What Chromium writes to the page's console when it refuses a credentialed JSON POST from `origin`. */
function corsConsole(origin: string): string[] {
  return [
    `Access to fetch at '${api.baseUrl}/graphql' from origin '${origin}' has been blocked by CORS policy: ` +
      "Response to preflight request doesn't pass access control check: No 'Access-Control-Allow-Origin' header " +
      'is present on the requested resource.',
    'Failed to load resource: net::ERR_FAILED',
  ];
}

let dir: string;
let listed: AppServer;
let unlisted: AppServer;
let api: ServerProcess;
let browser: Browser;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'auth-cors-'));
  listed = await startAppServer();
  unlisted = await startAppServer();
  api = await startServer({
    DATABASE_URL: join(dir, 'auth.sqlite'),
    LOG_LEVEL: 'silent',
    BCRYPT_ROUNDS: '4',
    CORS_ORIGINS: listed.origin,
  });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  if (api !== undefined) {
    api.child.kill('SIGTERM');
    await api.ended;
  }
  for (const app of [listed, unlisted]) {
    if (app !== undefined) await new Promise((resolve) => app.server.close(resolve));
  }
  rmSync(dir, { recursive: true, force: true });
});

/** A page of the app at `origin` in `context`, with the browser console's messages collected. */
async function openApp(context: BrowserContext, origin: string): Promise<{ page: Page; console: string[] }> {
  const page = await context.newPage();
  const console: string[] = [];
  page.on('console', (message) => console.push(message.text()));
  await page.goto(`${origin}/`);
  return { page, console };
}

/**
 * The console's messages once there are `count` of them (or after 5 s, to fail with what there is): Chromium
 * reports a refused request to the console on its own channel, which may arrive after the fetch has rejected.
 */
async function consoleMessages(messages: readonly string[], count: number): Promise<readonly string[]> {
  const deadline = Date.now() + 5_000;
  while (messages.length < count && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return messages;
}

/** Runs one GraphQL operation from the page, as its app would. */
function call(page: Page, query: string, variables?: Record<string, string>): Promise<Outcome> {
  return page.evaluate(
    // Runs in the page: globalThis is its window, where the inline script put callApi.
    ([apiUrl, text, vars]) => (globalThis as unknown as AppWindow).callApi(apiUrl, text, vars),
    [api.baseUrl, query, variables] as const,
  );
}

/** One GraphQL operation from Node (no Origin header, no browser), with an optional session cookie. */
async function nodeCall(
  query: string,
  variables: Record<string, unknown> = {},
  cookie?: string,
): Promise<{ body: unknown; setCookie: string | null }> {
  const response = await fetch(`${api.baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(cookie === undefined ? {} : { cookie }) },
    body: JSON.stringify({ query, variables }),
  });
  return { body: await response.json(), setCookie: response.headers.get('set-cookie') };
}

/** Runs `body` in a fresh browser context (its own cookie jar), closed afterwards. */
async function inContext(body: (context: BrowserContext) => Promise<void>): Promise<void> {
  const context = await browser.newContext();
  try {
    await body(context);
  } finally {
    await context.close();
  }
}

describe('a page from an origin listed in CORS_ORIGINS', () => {
  it('registers, logs in and reads its own profile with credentials: include, then logs out', async () => {
    await inContext(async (context) => {
      const { page } = await openApp(context, listed.origin);
      const email = uniqueEmail('listed');

      expect(await call(page, REGISTER, { email, password: PASSWORD })).toEqual({
        status: 200,
        body: { data: { register: { email } } },
      });
      expect(await call(page, LOGIN, { email, password: PASSWORD })).toEqual({
        status: 200,
        body: { data: { login: { email } } },
      });
      // The browser stored the cookie for the API's host (the page's scripts cannot read it: HttpOnly).
      expect(
        (await context.cookies(api.baseUrl)).map(({ name, httpOnly, sameSite, secure }) => ({
          name,
          httpOnly,
          sameSite,
          secure,
        })),
      ).toEqual([{ name: 'session_id', httpOnly: true, sameSite: 'Lax', secure: false }]);
      expect(await call(page, PROFILE)).toEqual({ status: 200, body: { data: { profile: { email } } } });

      expect(await call(page, LOGOUT)).toEqual({ status: 200, body: { data: { logout: true } } });
      expect(await context.cookies(api.baseUrl)).toEqual([]);
      expect(await call(page, PROFILE)).toEqual({ status: 200, body: { data: { profile: null } } });
    });
  });
});

describe('a page from an origin not listed in CORS_ORIGINS', () => {
  it('cannot register: the fetch rejects and no account is created', async () => {
    await inContext(async (context) => {
      const { page, console } = await openApp(context, unlisted.origin);
      const email = uniqueEmail('unlisted');

      expect(await call(page, REGISTER, { email, password: PASSWORD })).toEqual(CORS_FAILURE);
      expect(await consoleMessages(console, 2)).toEqual(corsConsole(unlisted.origin));
      // The preflight was refused, so the POST never left the browser: the account does not exist.
      expect((await nodeCall(LOGIN, { email, password: PASSWORD })).body).toMatchObject({
        data: null,
        errors: [{ extensions: { code: 'INVALID_CREDENTIALS' } }],
      });
    });
  });

  it('cannot log in to an existing account: no cookie, no session, nothing reached the resolver', async () => {
    const email = uniqueEmail('victim');
    await nodeCall(REGISTER, { email, password: PASSWORD });

    await inContext(async (context) => {
      const { page } = await openApp(context, unlisted.origin);
      expect(await call(page, LOGIN, { email, password: PASSWORD })).toEqual(CORS_FAILURE);
      expect(await call(page, PROFILE)).toEqual(CORS_FAILURE);
      expect(await context.cookies(api.baseUrl)).toEqual([]);
    });

    // Signed in from Node, the account shows exactly one session and one login, both this one's: the page's
    // login never reached the server (its preflight was refused), so it created no session anywhere.
    const login = await nodeCall(LOGIN, { email, password: PASSWORD });
    const cookie = (login.setCookie ?? '').split(';')[0];
    expect((await nodeCall('{ sessions { current } }', {}, cookie)).body).toEqual({
      data: { sessions: [{ current: true }] },
    });
    expect((await nodeCall('{ securityEvents { type } }', {}, cookie)).body).toEqual({
      data: { securityEvents: [{ type: 'LOGIN_SUCCEEDED' }, { type: 'REGISTERED' }] },
    });
  });

  it('cannot use the session the browser holds for a listed app, nor end it, in the same browser', async () => {
    await inContext(async (context) => {
      const app = await openApp(context, listed.origin);
      const email = uniqueEmail('shared');
      await call(app.page, REGISTER, { email, password: PASSWORD });
      expect(await call(app.page, LOGIN, { email, password: PASSWORD })).toEqual({
        status: 200,
        body: { data: { login: { email } } },
      });

      // The cookie is there, and same-site, yet the browser does not let the unlisted origin send it with JSON.
      const hostile = await openApp(context, unlisted.origin);
      expect(await call(hostile.page, PROFILE)).toEqual(CORS_FAILURE);
      expect(await call(hostile.page, LOGOUT)).toEqual(CORS_FAILURE);
      // A no-cors text/plain POST needs no preflight, so it does go out, with the same-site cookie. The server
      // refuses it before reading it (403 CROSS_SITE_REQUEST: Sec-Fetch-Site is same-site and the origin is not
      // listed; behind that, 415 for a body type it does not read, and Apollo's CSRF prevention), so the logout
      // does not run, as the last profile read shows. The page
      // learns nothing either: Cross-Origin-Resource-Policy: same-origin (helmet) makes the browser reject even
      // the opaque answer.
      expect(
        await hostile.page.evaluate(
          ([apiUrl, text]) => (globalThis as unknown as AppWindow).postSimple(apiUrl, text),
          [api.baseUrl, LOGOUT] as const,
        ),
      ).toEqual(CORS_FAILURE);
      expect(await consoleMessages(hostile.console, 5)).toEqual([
        ...corsConsole(unlisted.origin),
        ...corsConsole(unlisted.origin),
        'Failed to load resource: net::ERR_BLOCKED_BY_RESPONSE.NotSameOrigin',
      ]);

      expect(await call(app.page, PROFILE)).toEqual({ status: 200, body: { data: { profile: { email } } } });
    });
  });
});
