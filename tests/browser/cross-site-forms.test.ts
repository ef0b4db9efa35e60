// Login CSRF in Chromium: another site's auto-submitted form cannot sign the browser in; our own origin's form can.
//
// The API listens on 127.0.0.1:<port A>. The hostile pages come from a plain node:http server on port B, reached
// as `localhost:<B>` (another site: a site is the scheme plus the registrable domain, or the IP address, and
// `localhost` is not 127.0.0.1) and as `127.0.0.1:<B>` (the same site, another origin: ports do not count). A
// top-level form POST is what makes login CSRF work despite SameSite=Lax: the browser sends no cookie with it,
// but it does store the one the answer sets. Our own page cannot be served by the API (its answers carry CSP
// form-action 'none'), so Playwright fulfils a page at the API's origin instead, which Chromium then treats as
// one of the API's own pages.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page, Response } from 'playwright-core';
import { launchChromium } from '../helpers/browser';
import { PASSWORD, uniqueEmail } from '../helpers/factories';
import { formPost, startServer, type ServerProcess } from '../helpers/server-process';

/** The exact answer to a refused cross-site request on the REST shim. */
const REFUSAL = { message: 'cross-site request refused' };

/** Escapes text for an HTML attribute value in double quotes. */
function attribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}

/**
 * A page with a login form posting to `action`. A hostile page submits it itself as soon as it loads, as a
 * top-level navigation (no script needs to read anything: the answer's Set-Cookie is the whole attack); on our
 * own page the user clicks the button.
 */
function loginFormPage(action: string, email: string, submit: 'on load' | 'by the user'): string {
  const script = submit === 'on load' ? '<script>document.forms[0].submit();</script>' : '';
  return `<!doctype html>
<html>
  <head><meta charset="utf-8"><title>login form</title><link rel="icon" href="data:,"></head>
  <body>
    <form method="post" action="${attribute(action)}">
      <input name="email" value="${attribute(email)}">
      <input name="password" value="${attribute(PASSWORD)}">
      <button>sign in</button>
    </form>
    ${script}
  </body>
</html>
`;
}

let dir: string;
let api: ServerProcess;
let browser: Browser;
/** The hostile pages' server, and the page it serves at each path. */
let hostile: Server;
let hostilePort: number;
const hostilePages = new Map<string, string>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'auth-cross-site-'));
  hostile = createServer((request, response) => {
    const page = request.method === 'GET' ? hostilePages.get(request.url ?? '') : undefined;
    if (page === undefined) response.writeHead(404).end();
    else response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
  });
  await new Promise<void>((resolve) => hostile.listen(0, '127.0.0.1', resolve));
  const address = hostile.address();
  if (address === null || typeof address === 'string') throw new Error('hostile server has no port');
  hostilePort = address.port;
  api = await startServer({
    DATABASE_URL: join(dir, 'auth.sqlite'),
    LOG_LEVEL: 'silent',
    BCRYPT_ROUNDS: '4',
  });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  if (api !== undefined) {
    api.child.kill('SIGTERM');
    await api.ended;
  }
  if (hostile !== undefined) await new Promise((resolve) => hostile.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

/** Registers an account from Node (no browser headers) and returns its email. */
async function registerFromNode(prefix: string): Promise<string> {
  const email = uniqueEmail(prefix);
  const response = await fetch(`${api.baseUrl}/users`, formPost({ email, password: PASSWORD }));
  if (response.status !== 200) throw new Error(`registration failed: ${await response.text()}`);
  return email;
}

/** How many live sessions the account has, counted from a login of its own made from Node. */
async function sessionCountAfterNodeLogin(email: string): Promise<number> {
  const login = await fetch(`${api.baseUrl}/sessions`, formPost({ email, password: PASSWORD }));
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
  const response = await fetch(`${api.baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie },
    body: JSON.stringify({ query: '{ sessions { current } }' }),
  });
  const body = (await response.json()) as { data: { sessions: unknown[] } };
  return body.data.sessions.length;
}

/** Runs `body` in a fresh browser context (its own cookie jar), closed afterwards. */
async function inContext(body: (context: BrowserContext, page: Page) => Promise<void>): Promise<void> {
  const context = await browser.newContext();
  try {
    await body(context, await context.newPage());
  } finally {
    await context.close();
  }
}

/** Waits for the browser's answer to the POST /sessions that `act` makes the page send, and returns it. */
async function loginAnswer(page: Page, act: () => Promise<unknown>): Promise<Response> {
  const answer = page.waitForResponse(
    (response) => response.url() === `${api.baseUrl}/sessions` && response.request().method() === 'POST',
  );
  await act();
  return answer;
}

/** The headers of the request that got `response`, as the browser sent them (Sec-Fetch-* included). */
async function sentHeaders(response: Response): Promise<Record<string, string>> {
  return response.request().allHeaders();
}

describe('a login form on another page, auto-submitted to POST /sessions', () => {
  it.each([
    ['another site (localhost)', 'localhost', 'cross-site'],
    ['the same site, another origin (127.0.0.1, another port)', '127.0.0.1', 'same-site'],
  ])(
    'from %s is answered 403 and leaves the browser without a session cookie',
    async (_case, hostileHost, fetchSite) => {
      const email = await registerFromNode('victim');
      const hostileOrigin = `http://${hostileHost}:${hostilePort}`;
      const path = `/csrf-${fetchSite}`;
      hostilePages.set(path, loginFormPage(`${api.baseUrl}/sessions`, email, 'on load'));

      await inContext(async (context, page) => {
        const response = await loginAnswer(page, () => page.goto(`${hostileOrigin}${path}`));
        // The browser said where the form came from, which is what the server judged.
        expect(await sentHeaders(response)).toMatchObject({
          origin: hostileOrigin,
          'sec-fetch-site': fetchSite,
          'sec-fetch-mode': 'navigate',
        });
        expect(response.status()).toBe(403);
        expect(await response.json()).toEqual(REFUSAL);
        expect(await response.headerValue('set-cookie')).toBeNull();
        expect(await context.cookies(api.baseUrl)).toEqual([]);
      });
      // Nothing ran on the server either: the account's only session is the one this check makes.
      expect(await sessionCountAfterNodeLogin(email)).toBe(1);
    },
  );
});

describe("a login form on a page of the API's own origin", () => {
  it('signs the browser in: 200, a session_id cookie, and the profile readable afterwards', async () => {
    const email = await registerFromNode('own-page');
    await inContext(async (context, page) => {
      await page.route(`${api.baseUrl}/login-page`, (route) =>
        route.fulfill({
          contentType: 'text/html; charset=utf-8',
          body: loginFormPage('/sessions', email, 'by the user'),
        }),
      );
      await page.goto(`${api.baseUrl}/login-page`);
      // With a route in place Playwright reports a request's headers as they were before Chromium's network layer
      // added Sec-Fetch-*; without one it reports what was sent. The page is loaded, so the route can go.
      await page.unrouteAll();
      const response = await loginAnswer(page, () => page.click('button'));
      expect(await sentHeaders(response)).toMatchObject({
        origin: api.baseUrl,
        'sec-fetch-site': 'same-origin',
      });
      expect(response.status()).toBe(200);
      expect(await response.json()).toEqual({ email, message: 'logged in' });
      expect((await context.cookies(api.baseUrl)).map((cookie) => cookie.name)).toEqual(['session_id']);

      // The browser sends the cookie back on its own: a navigation to /profile shows whose session it is.
      const profile = await page.goto(`${api.baseUrl}/profile`);
      expect(profile?.status()).toBe(200);
      expect(await profile?.json()).toEqual({ email });
    });
  });
});

describe('a client that is not a browser (no Origin, no Sec-Fetch-Site)', () => {
  it('signs in from Node as curl does: 200 with Set-Cookie', async () => {
    const email = await registerFromNode('curl');
    const response = await fetch(`${api.baseUrl}/sessions`, formPost({ email, password: PASSWORD }));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ email, message: 'logged in' });
    expect(response.headers.get('set-cookie')).toMatch(/^session_id=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly/);
  });
});
