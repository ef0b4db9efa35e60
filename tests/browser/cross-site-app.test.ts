// An app on another site (COOKIE_SAME_SITE=none): in Chromium it signs in and reads the profile; with Lax it cannot.
//
// The API listens on 127.0.0.1 and the app's page is served from `localhost`: two different sites, as an app on
// https://app.example.net calling https://api.example.com would be. Both are loopback, which browsers treat as
// secure contexts, so a Secure cookie works over plain http here as it does over https in production.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { startAppServer, type AppServer, type AppWindow, type Outcome } from '../helpers/app-page';
import { launchProfile } from '../helpers/browser';
import { PASSWORD, uniqueEmail } from '../helpers/factories';
import { startServer, type ServerProcess } from '../helpers/server-process';

const REGISTER =
  'mutation($email: String!, $password: String!) { register(email: $email, password: $password) { email } }';
const LOGIN =
  'mutation($email: String!, $password: String!) { login(email: $email, password: $password) { email } }';
const PROFILE = '{ profile { email } }';

let directory: string;
let app: AppServer;
const apis: ServerProcess[] = [];

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'auth-cross-site-'));
  app = await startAppServer('localhost');
});
afterAll(async () => {
  for (const api of apis) {
    api.child.kill('SIGTERM');
    await api.ended;
  }
  await new Promise((resolve) => app.server.close(resolve));
  rmSync(directory, { recursive: true, force: true });
});

/** The API on 127.0.0.1 with the app's origin listed, and the cookie settings given. */
async function api(env: Record<string, string>): Promise<ServerProcess> {
  const server = await startServer({
    DATABASE_URL: join(directory, `${apis.length}.sqlite`),
    LOG_LEVEL: 'silent',
    BCRYPT_ROUNDS: '4',
    CORS_ORIGINS: app.origin,
    ...env,
  });
  apis.push(server);
  return server;
}

/** Runs one GraphQL operation from the app's page against `server`. */
function call(
  page: Page,
  server: ServerProcess,
  query: string,
  variables?: Record<string, string>,
): Promise<Outcome> {
  return page.evaluate(
    ([apiUrl, text, vars]) => (globalThis as unknown as AppWindow).callApi(apiUrl, text, vars),
    [server.baseUrl, query, variables] as const,
  );
}

/** Registers and logs in from the app's page, then reads the profile: what the app sees as signed in. */
async function signInFromTheApp(
  server: ServerProcess,
  thirdPartyCookies: 'allowed' | 'blocked' = 'allowed',
): Promise<Outcome> {
  const { context, close } = await launchProfile(thirdPartyCookies);
  try {
    const page = await context.newPage();
    await page.goto(`${app.origin}/`);
    const email = uniqueEmail('cross-site');
    expect(await call(page, server, REGISTER, { email, password: PASSWORD })).toEqual({
      status: 200,
      body: { data: { register: { email } } },
    });
    expect(await call(page, server, LOGIN, { email, password: PASSWORD })).toEqual({
      status: 200,
      body: { data: { login: { email } } },
    });
    const profile = await call(page, server, PROFILE);
    return profile;
  } finally {
    await close();
  }
}

it('COOKIE_SAME_SITE=none with Secure: the app on another site stays signed in (third-party cookies allowed)', async () => {
  const server = await api({ COOKIE_SAME_SITE: 'none', COOKIE_SECURE: 'true' });
  const profile = await signInFromTheApp(server);
  expect(profile).toMatchObject({
    status: 200,
    body: { data: { profile: { email: expect.any(String) as unknown } } },
  });
});

it('the default, SameSite=Lax: the login answers, but the browser keeps no cookie for the other site', async () => {
  const server = await api({});
  expect(await signInFromTheApp(server)).toEqual({ status: 200, body: { data: { profile: null } } });
});

it('even with SameSite=None, a browser that blocks third-party cookies keeps none: serve the app same-site', async () => {
  const server = await api({ COOKIE_SAME_SITE: 'none', COOKIE_SECURE: 'true' });
  expect(await signInFromTheApp(server, 'blocked')).toEqual({
    status: 200,
    body: { data: { profile: null } },
  });
});
