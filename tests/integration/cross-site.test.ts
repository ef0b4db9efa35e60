// Browsers' cross-site writes are refused on every route before anything runs; other clients are served as before.
import type { LightMyRequestResponse } from 'fastify';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { NEW_PASSWORD, PASSWORD, registeredUser, signedInUser, uniqueEmail } from '../helpers/factories';
import { LOGIN, graphql } from '../helpers/graphql';
import { sendEmpty, sendForm, sessionCookieOf, setCookies } from '../helpers/http';
import { SmtpSink } from '../helpers/smtp';

/** The API's host as the browser addresses it (the Host header of every request below). */
const API_HOST = 'api.example.test';
/** The app the operator lists in CORS_ORIGINS, on a sibling subdomain: the same site, another origin. */
const LISTED_ORIGIN = 'https://app.example.test';

const REST_REFUSAL = '{"message":"cross-site request refused"}';
const GRAPHQL_REFUSAL =
  '{"errors":[{"message":"cross-site request refused","extensions":{"code":"CROSS_SITE_REQUEST"}}]}';

/** The headers a browser adds on its own: Origin and Sec-Fetch-Site. Page scripts can set neither. */
type BrowserHeaders = Readonly<Record<string, string>>;

/** Reset tokens come back in the answer (the test default): what PUT /reset_password needs. */
let app: TestApp;
/** Reset tokens go by mail to `sink`: where a refused POST /reset_password must send nothing. */
let mailApp: TestApp;
let sink: SmtpSink;
beforeAll(async () => {
  sink = await SmtpSink.start();
  [app, mailApp] = await Promise.all([
    createTestApp({ CORS_ORIGINS: LISTED_ORIGIN }),
    createTestApp({ CORS_ORIGINS: LISTED_ORIGIN, RESET_TOKEN_DELIVERY: 'email', SMTP_URL: sink.url }),
  ]);
});
afterAll(async () => {
  await Promise.all([app?.close(), mailApp?.close()]);
  await sink?.stop();
});

/** A form POST/PUT/DELETE to the API's host (of `target`, by default `app`), as a browser's form or fetch sends it. */
function browserForm(
  method: 'POST' | 'PUT' | 'DELETE',
  url: string,
  fields: Record<string, string>,
  headers: BrowserHeaders,
  { cookie, target = app }: { cookie?: string; target?: TestApp } = {},
): Promise<LightMyRequestResponse> {
  return target.server.inject({
    method,
    url,
    payload: new URLSearchParams(fields).toString(),
    headers: {
      host: API_HOST,
      'content-type': 'application/x-www-form-urlencoded',
      ...(cookie === undefined ? {} : { cookie }),
      ...headers,
    },
  });
}

/** The login mutation as a browser's fetch sends it to the API's host. */
function browserLogin(email: string, headers: BrowserHeaders): Promise<LightMyRequestResponse> {
  return app.server.inject({
    method: 'POST',
    url: '/graphql',
    payload: JSON.stringify({ query: LOGIN, variables: { email, password: PASSWORD } }),
    headers: { host: API_HOST, 'content-type': 'application/json', ...headers },
  });
}

/**
 * Signs in without browser headers and returns how many live sessions the account has: 1 means only this one,
 * so no earlier attempt created a session.
 */
async function sessionCountAfterFreshLogin(email: string): Promise<number> {
  const cookie = sessionCookieOf(await sendForm(app, 'POST', '/sessions', { email, password: PASSWORD }));
  const answer = await graphql<{ sessions: unknown[] }>(app, '{ sessions { current } }', {}, cookie);
  return answer.data?.sessions.length ?? 0;
}

/** A reset token requested without browser headers (RESET_TOKEN_DELIVERY=response, the test default). */
async function resetTokenFor(email: string): Promise<string> {
  const response = await sendForm(app, 'POST', '/reset_password', { email });
  return response.json<{ reset_token: string }>().reset_token;
}

/** One request sent, and a check that fails if it had any effect. */
interface Attempt {
  readonly response: LightMyRequestResponse;
  readonly nothingRan: () => Promise<void>;
}

/** One unsafe route: how a browser reaches it, and how to tell afterwards that the refused request did nothing. */
interface UnsafeRoute {
  readonly name: string;
  /** The exact refusal body of the route's transport. */
  readonly refusal: string;
  readonly attempt: (headers: BrowserHeaders) => Promise<Attempt>;
}

const UNSAFE_ROUTES: readonly UnsafeRoute[] = [
  {
    name: 'POST /sessions',
    refusal: REST_REFUSAL,
    attempt: async (headers) => {
      const email = await registeredUser(app);
      const response = await browserForm('POST', '/sessions', { email, password: PASSWORD }, headers);
      return { response, nothingRan: async () => expect(await sessionCountAfterFreshLogin(email)).toBe(1) };
    },
  },
  {
    name: 'POST /users',
    refusal: REST_REFUSAL,
    attempt: async (headers) => {
      const email = uniqueEmail('csrf-register');
      const response = await browserForm('POST', '/users', { email, password: PASSWORD }, headers);
      return {
        response,
        // The email is still free: the refused registration created no account.
        nothingRan: async () => {
          const again = await sendForm(app, 'POST', '/users', { email, password: PASSWORD });
          expect([again.statusCode, again.json()]).toEqual([200, { email, message: 'user created' }]);
        },
      };
    },
  },
  {
    name: 'POST /reset_password',
    refusal: REST_REFUSAL,
    attempt: async (headers) => {
      const email = await registeredUser(mailApp);
      const response = await browserForm('POST', '/reset_password', { email }, headers, { target: mailApp });
      return {
        response,
        // No reset mail went out: once a request without browser headers has sent its own, it is the only one.
        nothingRan: async () => {
          const control = await sendForm(mailApp, 'POST', '/reset_password', { email });
          expect(control.json()).toEqual({ email, message: 'reset email sent' });
          await sink.waitForMessagesTo(email, 1);
          await mailApp.settled();
          expect(sink.messagesTo(email).length).toBe(1);
        },
      };
    },
  },
  {
    name: 'PUT /reset_password',
    refusal: REST_REFUSAL,
    attempt: async (headers) => {
      const email = await registeredUser(app);
      const token = await resetTokenFor(email);
      const fields = { email, reset_token: token, new_password: NEW_PASSWORD };
      const response = await browserForm('PUT', '/reset_password', fields, headers);
      return {
        response,
        // The token was not spent and the password not changed: the old password still signs in.
        nothingRan: async () => {
          const login = await sendForm(app, 'POST', '/sessions', { email, password: PASSWORD });
          expect(login.statusCode).toBe(200);
          expect((await sendForm(app, 'PUT', '/reset_password', fields)).statusCode).toBe(200);
        },
      };
    },
  },
  {
    name: 'DELETE /sessions',
    refusal: REST_REFUSAL,
    attempt: async (headers) => {
      const { email, cookie } = await signedInUser(app);
      const response = await browserForm('DELETE', '/sessions', {}, headers, { cookie });
      return {
        response,
        // The session was not ended.
        nothingRan: async () => {
          const profile = await sendEmpty(app, 'GET', '/profile', cookie);
          expect([profile.statusCode, profile.json()]).toEqual([200, { email }]);
        },
      };
    },
  },
  {
    name: 'POST /graphql (login)',
    refusal: GRAPHQL_REFUSAL,
    attempt: async (headers) => {
      const email = await registeredUser(app);
      const response = await browserLogin(email, headers);
      return { response, nothingRan: async () => expect(await sessionCountAfterFreshLogin(email)).toBe(1) };
    },
  },
];

/** What a browser sends for a page of another site or origin that CORS_ORIGINS does not list. */
const FOREIGN_PAGES: readonly (readonly [string, BrowserHeaders])[] = [
  ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }],
  [
    'Sec-Fetch-Site: same-site from an unlisted sibling origin',
    { 'sec-fetch-site': 'same-site', origin: 'https://www.example.test' },
  ],
  ['Origin https://evil.example without Sec-Fetch-Site', { origin: 'https://evil.example' }],
  ['Origin: null (a sandboxed frame, a file: page)', { origin: 'null' }],
];

describe('unsafe requests a browser sends for a page of another site or unlisted origin', () => {
  const cases = UNSAFE_ROUTES.flatMap((route) =>
    FOREIGN_PAGES.map(([page, headers]) => [route.name, page, route, headers] as const),
  );

  it.each(cases)(
    'refuses %s with %s: 403, the catalogue answer, no cookie, nothing done',
    async (_name, _page, route, headers) => {
      const { response, nothingRan } = await route.attempt(headers);
      expect(response.statusCode).toBe(403);
      expect(response.body).toBe(route.refusal);
      expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(setCookies(response)).toEqual([]);
      await nothingRan();
    },
  );

  it.each([
    ['POST /sessions', (headers: BrowserHeaders) => browserForm('POST', '/sessions', {}, headers)],
    ['POST /graphql', (headers: BrowserHeaders) => browserLogin('nobody@example.com', headers)],
  ])('answers %s refusals with the security headers, no-store and a request id', async (_route, send) => {
    const response = await send({ 'sec-fetch-site': 'cross-site' });
    expect(response.statusCode).toBe(403);
    expect(response.headers).toMatchObject({
      'cache-control': 'no-store',
      'content-security-policy': expect.stringContaining("form-action 'none'") as unknown,
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
    });
    expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it.each([
    ['another port of our host', 'https://api.example.test:8443'],
    ['a host that only starts like ours', 'https://api.example.test.evil.example'],
    ['a listed origin written with a trailing slash (listing is exact)', `${LISTED_ORIGIN}/`],
    ['a listed origin on another port', `${LISTED_ORIGIN}:8443`],
    ['a value that is not a URL', 'api.example.test'],
  ])('refuses an Origin that is not ours nor listed: %s', async (_case, origin) => {
    const email = await registeredUser(app);
    const response = await browserForm('POST', '/sessions', { email, password: PASSWORD }, { origin });
    expect([response.statusCode, response.body]).toEqual([403, REST_REFUSAL]);
  });

  it('logs a refusal as an ordinary completed request, never at error level', async () => {
    const before = app.logLines.length;
    await browserForm('POST', '/sessions', {}, { origin: 'https://evil.example' });
    await browserLogin('nobody@example.com', { 'sec-fetch-site': 'cross-site' });
    const lines = app.logLines
      .slice(before)
      .map((line) => JSON.parse(line) as { level: number; msg: string; res?: { statusCode: number } });
    expect(lines.map((line) => [line.level, line.msg, line.res?.statusCode])).toEqual([
      [30, 'request completed', 403],
      [30, 'request completed', 403],
    ]);
  });
});

describe('requests the checks let through', () => {
  it('serves a client that sends neither header (curl) exactly as before, on every route', async () => {
    const email = uniqueEmail('curl');
    const register = await sendForm(app, 'POST', '/users', { email, password: PASSWORD });
    expect([register.statusCode, register.body]).toEqual([
      200,
      JSON.stringify({ email, message: 'user created' }),
    ]);

    const login = await sendForm(app, 'POST', '/sessions', { email, password: PASSWORD });
    expect([login.statusCode, login.body]).toEqual([200, JSON.stringify({ email, message: 'logged in' })]);
    const cookie = sessionCookieOf(login);

    const logout = await sendEmpty(app, 'DELETE', '/sessions', cookie);
    expect([logout.statusCode, logout.headers.location]).toEqual([302, '/']);

    const token = await resetTokenFor(email);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const reset = await sendForm(app, 'PUT', '/reset_password', {
      email,
      reset_token: token,
      new_password: NEW_PASSWORD,
    });
    expect([reset.statusCode, reset.body]).toEqual([
      200,
      JSON.stringify({ email, message: 'Password updated' }),
    ]);

    const graphqlLogin = await graphql(app, LOGIN, { email, password: NEW_PASSWORD });
    expect(graphqlLogin.response.statusCode).toBe(200);
    expect(graphqlLogin.data).toMatchObject({ login: { email } });
    expect(sessionCookieOf(graphqlLogin.response)).toMatch(/^session_id=/);
  });

  it.each([
    ['Origin and Host the same, Sec-Fetch-Site: same-origin', API_HOST, `https://${API_HOST}`, 'same-origin'],
    ['an http Origin for an http server', `${API_HOST}:8080`, `http://${API_HOST}:8080`, 'same-origin'],
    ['a Host header in upper case', API_HOST.toUpperCase(), `https://${API_HOST}`, 'same-origin'],
    ['an Origin with the default port written out', API_HOST, `https://${API_HOST}:443`, 'same-origin'],
    ['an own Origin from a browser without Sec-Fetch-Site', API_HOST, `https://${API_HOST}`, undefined],
    ['Sec-Fetch-Site: none (the user acted) with no Origin', API_HOST, undefined, 'none'],
  ])('signs in from our own page: %s', async (_case, host, origin, fetchSite) => {
    const email = await registeredUser(app);
    const headers = {
      host,
      ...(origin === undefined ? {} : { origin }),
      ...(fetchSite === undefined ? {} : { 'sec-fetch-site': fetchSite }),
    };
    const response = await browserForm('POST', '/sessions', { email, password: PASSWORD }, headers);
    expect([response.statusCode, response.body]).toEqual([
      200,
      JSON.stringify({ email, message: 'logged in' }),
    ]);
    expect(sessionCookieOf(response)).toMatch(/^session_id=/);
  });

  it('signs in through GraphQL from our own page', async () => {
    const email = await registeredUser(app);
    const response = await browserLogin(email, {
      origin: `https://${API_HOST}`,
      'sec-fetch-site': 'same-origin',
    });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ data: { login: { email } } });
    expect(sessionCookieOf(response)).toMatch(/^session_id=/);
  });

  it.each(['same-site', 'cross-site'])(
    'lets the origin listed in CORS_ORIGINS sign in with Sec-Fetch-Site: %s, on both transports',
    async (fetchSite) => {
      const headers = { origin: LISTED_ORIGIN, 'sec-fetch-site': fetchSite };
      const email = await registeredUser(app);
      const rest = await browserForm('POST', '/sessions', { email, password: PASSWORD }, headers);
      expect([rest.statusCode, rest.body]).toEqual([200, JSON.stringify({ email, message: 'logged in' })]);
      expect(sessionCookieOf(rest)).toMatch(/^session_id=/);

      const gql = await browserLogin(email, headers);
      expect(gql.statusCode).toBe(200);
      expect(gql.json()).toMatchObject({ data: { login: { email } } });
      expect(gql.headers['access-control-allow-origin']).toBe(LISTED_ORIGIN);
      expect(sessionCookieOf(gql)).toMatch(/^session_id=/);
    },
  );

  it('does not refuse a read (GET /profile) from another site: safe methods change nothing', async () => {
    const { email, cookie } = await signedInUser(app);
    const response = await app.server.inject({
      method: 'GET',
      url: '/profile',
      headers: { host: API_HOST, cookie, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
    });
    expect([response.statusCode, response.json()]).toEqual([200, { email }]);
  });

  it('leaves a preflight from the listed origin to CORS: 204 with its headers', async () => {
    const response = await app.server.inject({
      method: 'OPTIONS',
      url: '/graphql',
      headers: {
        host: API_HOST,
        origin: LISTED_ORIGIN,
        'sec-fetch-site': 'same-site',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(response.statusCode).toBe(204);
    expect(response.headers).toMatchObject({
      'access-control-allow-origin': LISTED_ORIGIN,
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'GET, POST, PUT, DELETE',
    });
  });
});
