// COOKIE_SAME_SITE and COOKIE_HOST_PREFIX on the wire: the attributes and the name of the session cookie, both transports.
import { createTestApp, type TestApp } from '../helpers/test-app';
import { graphql, LOGIN } from '../helpers/graphql';
import { sendEmpty, sendForm } from '../helpers/http';
import { PASSWORD, registeredUser } from '../helpers/factories';

const openApps: TestApp[] = [];
afterEach(async () => {
  await Promise.all(openApps.splice(0).map((app) => app.close()));
});

/** An app with `env`, closed after the test. */
async function appWith(env: Record<string, string>): Promise<TestApp> {
  const app = await createTestApp(env);
  openApps.push(app);
  return app;
}

/** The Set-Cookie values of an answer. */
function setCookies(headers: Record<string, unknown>): string[] {
  const value = headers['set-cookie'];
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

it('keeps the exercise’s cookie by default: session_id, SameSite=Lax', async () => {
  const app = await appWith({});
  const email = await registeredUser(app);
  const login = await sendForm(app, 'POST', '/sessions', { email, password: PASSWORD });
  expect(setCookies(login.headers)[0]).toMatch(
    /^session_id=[\w-]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=604800$/,
  );
});

it.each([
  ['strict', 'Strict', {}],
  ['none', 'None', { CORS_ORIGINS: 'https://app.example' }],
])('COOKIE_SAME_SITE=%s: both transports set SameSite=%s', async (value, attribute, extra) => {
  const app = await appWith({ COOKIE_SAME_SITE: value, COOKIE_SECURE: 'true', ...extra });
  const email = await registeredUser(app);
  const rest = await sendForm(app, 'POST', '/sessions', { email, password: PASSWORD });
  const overGraphql = await graphql(app, LOGIN, { email, password: PASSWORD });
  for (const headers of [rest.headers, overGraphql.response.headers]) {
    expect(setCookies(headers)[0]).toMatch(
      new RegExp(`^session_id=[\\w-]+; Path=/; HttpOnly; SameSite=${attribute}; Max-Age=604800; Secure$`),
    );
  }
  const logout = await sendEmpty(app, 'DELETE', '/sessions', setCookies(rest.headers)[0]?.split(';')[0]);
  expect(setCookies(logout.headers)[0]).toBe(
    `session_id=; Path=/; HttpOnly; SameSite=${attribute}; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure`,
  );
});

it('COOKIE_HOST_PREFIX=true: the cookie is __Host-session_id, read back under that name only', async () => {
  const app = await appWith({ COOKIE_HOST_PREFIX: 'true', COOKIE_SECURE: 'true' });
  const email = await registeredUser(app);
  const login = await sendForm(app, 'POST', '/sessions', { email, password: PASSWORD });
  const cookie = setCookies(login.headers)[0] ?? '';
  expect(cookie).toMatch(
    /^__Host-session_id=[\w-]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=604800; Secure$/,
  );
  const pair = cookie.split(';')[0] ?? '';
  expect((await sendEmpty(app, 'GET', '/profile', pair)).json()).toEqual({ email });
  // The exercise's name carries no session here: a sibling subdomain could have set it.
  const token = pair.slice(pair.indexOf('=') + 1);
  expect((await sendEmpty(app, 'GET', '/profile', `session_id=${token}`)).statusCode).toBe(403);
});
