// A login ends the session the client already holds (ASVS 7.2.4), on both transports, whoever it belonged to.
import { createTestApp, type TestApp } from '../helpers/test-app';
import { graphql, LOGIN, PROFILE } from '../helpers/graphql';
import { sendEmpty, sendForm, sessionCookieOf, setCookies } from '../helpers/http';
import { PASSWORD, registeredUser, signedInUser } from '../helpers/factories';

const NO_SESSION = '{"message":"no valid session"}';
const WRONG_PASSWORD = 'not the password 1';

type Transport = 'REST' | 'GraphQL';
const TRANSPORTS: readonly Transport[] = ['REST', 'GraphQL'];

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});
afterAll(async () => {
  await app.close();
});

/** Logs in over a transport, sending `cookie` along; the new `session_id=...` cookie, or null when refused. */
async function login(
  via: Transport,
  email: string,
  password: string,
  cookie: string,
): Promise<string | null> {
  if (via === 'REST') {
    const response = await app.server.inject({
      method: 'POST',
      url: '/sessions',
      payload: new URLSearchParams({ email, password }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
    });
    return response.statusCode === 200 ? sessionCookieOf(response) : null;
  }
  const answer = await graphql(app, LOGIN, { email, password }, cookie);
  return answer.errors === undefined ? sessionCookieOf(answer.response) : null;
}

/** GET /profile with a cookie: the status and body. */
async function profile(cookie: string): Promise<{ status: number; body: string }> {
  const response = await sendEmpty(app, 'GET', '/profile', cookie);
  return { status: response.statusCode, body: response.body };
}

/** The securityEvents of the holder of `cookie`, as type/reason pairs, newest first. */
async function eventsOf(cookie: string): Promise<[string, string | null][]> {
  const answer = await graphql<{ securityEvents: { type: string; reason: string | null }[] }>(
    app,
    'query { securityEvents { type reason } }',
    {},
    cookie,
  );
  return (answer.data?.securityEvents ?? []).map((event) => [event.type, event.reason]);
}

describe.each(TRANSPORTS)('%s login with a session cookie', (via) => {
  it('ends the session it replaces: the old cookie is refused, the new one works', async () => {
    const { email, cookie: old } = await signedInUser(app);
    const fresh = await login(via, email, PASSWORD, old);
    expect(fresh).not.toBeNull();
    expect(fresh).not.toBe(old);
    expect(await profile(old)).toEqual({ status: 403, body: NO_SESSION });
    expect(await profile(fresh ?? '')).toEqual({ status: 200, body: JSON.stringify({ email }) });
  });

  it("ends another user's session when the new login is someone else, and only that one", async () => {
    const first = await signedInUser(app);
    const phone = sessionCookieOf(
      await sendForm(app, 'POST', '/sessions', { email: first.email, password: PASSWORD }),
    );
    const second = await registeredUser(app);
    const fresh = await login(via, second, PASSWORD, first.cookie);
    expect(await profile(fresh ?? '')).toEqual({ status: 200, body: JSON.stringify({ email: second }) });
    expect(await profile(first.cookie)).toEqual({ status: 403, body: NO_SESSION });
    // The first user's other device is not touched, and its owner sees why the laptop's session ended.
    expect(await profile(phone)).toEqual({ status: 200, body: JSON.stringify({ email: first.email }) });
    expect((await eventsOf(phone))[0]).toEqual(['LOGGED_OUT', 'REPLACED_BY_LOGIN']);
  });

  it('keeps the session when the login fails', async () => {
    const { email, cookie } = await signedInUser(app);
    expect(await login(via, email, WRONG_PASSWORD, cookie)).toBeNull();
    expect(await profile(cookie)).toEqual({ status: 200, body: JSON.stringify({ email }) });
  });

  it.each([
    ['an unknown token', `session_id=${'A'.repeat(43)}`],
    ['a malformed token', 'session_id=garbage'],
    ['an empty cookie', 'session_id='],
  ])('logs in as usual with %s', async (_case, cookie) => {
    const email = await registeredUser(app);
    const fresh = await login(via, email, PASSWORD, cookie);
    expect(await profile(fresh ?? '')).toEqual({ status: 200, body: JSON.stringify({ email }) });
  });
});

it('answers a REST login that replaces a session exactly as the exercise does, with one Set-Cookie', async () => {
  const { email, cookie } = await signedInUser(app);
  const response = await sendForm(app, 'POST', '/sessions', { email, password: PASSWORD }, cookie);
  expect(response.statusCode).toBe(200);
  expect(response.body).toBe(JSON.stringify({ email, message: 'logged in' }));
  expect(setCookies(response)).toHaveLength(1);
  expect((await graphql(app, PROFILE, {}, cookie)).data).toEqual({ profile: null });
});
