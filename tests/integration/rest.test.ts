// The exercise's REST contract through the real app: every route, every failure row, cookie attributes, body rules.
import { createTestApp, type TestApp } from '../helpers/test-app';
import {
  CLEARED_SESSION_COOKIE,
  sendEmpty,
  sendForm,
  sendJson,
  sessionCookieOf,
  setCookies,
} from '../helpers/http';
import { NEW_PASSWORD, PASSWORD, registeredUser, signedInUser, uniqueEmail } from '../helpers/factories';

const SESSION_COOKIE_PATTERN =
  /^session_id=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=604800$/;

const ONE_AT_SIGN = 'email must have exactly one @ with a name before it and a domain after it';

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});
afterAll(async () => {
  await app.close();
});

describe('GET /', () => {
  it('answers 200 {"message":"Bienvenue"}', async () => {
    const response = await sendEmpty(app, 'GET', '/');
    expect(response.statusCode).toBe(200);
    expect(response.body).toBe('{"message":"Bienvenue"}');
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
  });
});

describe('POST /users', () => {
  it('creates a user and answers with the email and "user created"', async () => {
    const email = uniqueEmail();
    const response = await sendForm(app, 'POST', '/users', { email, password: PASSWORD });
    expect(response.statusCode).toBe(200);
    expect(response.body).toBe(JSON.stringify({ email, message: 'user created' }));
  });

  it('answers with the normalised email (trimmed, lower-case)', async () => {
    const email = uniqueEmail();
    const response = await sendForm(app, 'POST', '/users', {
      email: `  ${email.toUpperCase()} `,
      password: PASSWORD,
    });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ email, message: 'user created' });
  });

  it('answers 400 "email already registered" for a taken email, in any case', async () => {
    const email = await registeredUser(app);
    for (const again of [email, email.toUpperCase()]) {
      const response = await sendForm(app, 'POST', '/users', { email: again, password: PASSWORD });
      expect(response.statusCode).toBe(400);
      expect(response.body).toBe('{"message":"email already registered"}');
    }
  });

  it('accepts a JSON body as well as a form', async () => {
    const email = uniqueEmail();
    const response = await sendJson(app, 'POST', '/users', { email, password: PASSWORD });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ email, message: 'user created' });
  });

  it.each([
    ['email missing', { password: PASSWORD }, 'email is required'],
    ['password missing', { email: 'a@example.com' }, 'password is required'],
    ['email empty', { email: '  ', password: PASSWORD }, 'email must not be empty'],
    ['email without @', { email: 'nobody.example.com', password: PASSWORD }, ONE_AT_SIGN],
    ['email with two @', { email: 'a@b@example.com', password: PASSWORD }, ONE_AT_SIGN],
    ['email without local part', { email: '@example.com', password: PASSWORD }, ONE_AT_SIGN],
    ['email without domain', { email: 'someone@', password: PASSWORD }, ONE_AT_SIGN],
    [
      'email with a space',
      { email: 'some one@example.com', password: PASSWORD },
      'email must not contain spaces or control characters',
    ],
    [
      'email too long',
      {
        email: `${'a'.repeat(64)}@${'d'.repeat(63)}.${'d'.repeat(63)}.${'d'.repeat(58)}.com`,
        password: PASSWORD,
      },
      'email must be at most 254 characters',
    ],
    [
      'email local part longer than 64 bytes',
      { email: `${'a'.repeat(65)}@example.com`, password: PASSWORD },
      'email must have at most 64 bytes (UTF-8) before the @',
    ],
    [
      'email with a display name around the address',
      { email: 'x<victim@corp.example>', password: PASSWORD },
      'email must be one plain address, without display names, comments, groups or lists',
    ],
    [
      'password too short',
      { email: 'a@example.com', password: 'seven77' },
      'password must be at least 8 bytes long',
    ],
    [
      'password over 72 bytes',
      { email: 'a@example.com', password: 'x'.repeat(73) },
      'password must be at most 72 bytes long in UTF-8 (bcrypt ignores anything longer)',
    ],
    [
      'password over 72 bytes in UTF-8 only',
      { email: 'a@example.com', password: 'é'.repeat(37) },
      'password must be at most 72 bytes long in UTF-8 (bcrypt ignores anything longer)',
    ],
    [
      'password with NUL',
      { email: 'a@example.com', password: 'abcd\0efgh' },
      'password must not contain NUL characters',
    ],
  ])('answers 400 naming the problem when %s', async (_case, fields, message) => {
    const response = await sendForm(app, 'POST', '/users', fields);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ message });
  });

  it.each([
    ['a number', { email: 5, password: PASSWORD }, 'email must be a single string'],
    ['an array', { email: ['a@example.com'], password: PASSWORD }, 'email must be a single string'],
    ['an object', { email: 'a@example.com', password: { x: 1 } }, 'password must be a single string'],
    ['null', { email: null, password: PASSWORD }, 'email is required'],
  ])('answers 400 when a JSON field is %s', async (_case, body, message) => {
    const response = await sendJson(app, 'POST', '/users', body);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ message });
  });

  it('refuses unpaired surrogates, which would all hash as U+FFFD and let different passwords match', async () => {
    const response = await sendJson(app, 'POST', '/users', {
      email: uniqueEmail(),
      password: '\ud800\ud800\ud800pass',
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ message: 'password must be valid Unicode text' });
  });

  it('answers 400 when a form repeats a field', async () => {
    const response = await app.server.inject({
      method: 'POST',
      url: '/users',
      payload: `email=a@example.com&email=b@example.com&password=${encodeURIComponent(PASSWORD)}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ message: 'email must be a single string' });
  });

  it('accepts a 72-byte password and keeps spaces: it is never trimmed', async () => {
    const email = uniqueEmail();
    const password = ` ${'p'.repeat(70)} `;
    expect((await sendForm(app, 'POST', '/users', { email, password })).statusCode).toBe(200);
    expect((await sendForm(app, 'POST', '/sessions', { email, password })).statusCode).toBe(200);
    expect((await sendForm(app, 'POST', '/sessions', { email, password: password.trim() })).statusCode).toBe(
      401,
    );
  });
});

describe('POST /sessions', () => {
  it('logs in: 200 with the email, "logged in" and the exact session cookie', async () => {
    const email = await registeredUser(app);
    const response = await sendForm(app, 'POST', '/sessions', { email, password: PASSWORD });
    expect(response.statusCode).toBe(200);
    expect(response.body).toBe(JSON.stringify({ email, message: 'logged in' }));
    const cookies = setCookies(response);
    expect(cookies).toHaveLength(1);
    expect(cookies[0]).toMatch(SESSION_COOKIE_PATTERN);
  });

  it('accepts the email in another case and with spaces around it', async () => {
    const email = await registeredUser(app);
    const response = await sendForm(app, 'POST', '/sessions', {
      email: ` ${email.toUpperCase()}`,
      password: PASSWORD,
    });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ email, message: 'logged in' });
  });

  it.each([
    ['a wrong password', (email: string) => ({ email, password: 'wrong password' })],
    ['an unknown email', () => ({ email: uniqueEmail('ghost'), password: PASSWORD })],
    [
      'a password longer than 72 bytes sharing the first 72',
      (email: string) => ({ email, password: `${PASSWORD}${'x'.repeat(72)}` }),
    ],
    ['a malformed email', () => ({ email: 'not-an-email', password: PASSWORD })],
    ['a too-short password', (email: string) => ({ email, password: 'short' })],
  ])('answers 401 with no cookie for %s', async (_case, fields) => {
    const email = await registeredUser(app);
    const response = await sendForm(app, 'POST', '/sessions', fields(email));
    expect(response.statusCode).toBe(401);
    expect(response.json()).toEqual({ message: 'invalid email or password' });
    expect(setCookies(response)).toEqual([]);
  });

  it('refuses the 72-byte prefix trick: bcrypt would ignore bytes past 72', async () => {
    const email = uniqueEmail();
    const password = 'y'.repeat(72);
    expect((await sendForm(app, 'POST', '/users', { email, password })).statusCode).toBe(200);
    const response = await sendForm(app, 'POST', '/sessions', { email, password: `${password}extra` });
    expect(response.statusCode).toBe(401);
  });

  it.each([
    ['email', { password: PASSWORD }],
    ['password', { email: 'a@example.com' }],
  ])('answers 400 naming %s when it is missing', async (field, fields) => {
    const response = await sendForm(app, 'POST', '/sessions', fields);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ message: `${field} is required` });
  });

  it('adds Secure to the cookie when COOKIE_SECURE is set', async () => {
    const secureApp = await createTestApp({ COOKIE_SECURE: 'true' });
    try {
      const email = await registeredUser(secureApp);
      const response = await sendForm(secureApp, 'POST', '/sessions', { email, password: PASSWORD });
      expect(setCookies(response)[0]).toMatch(/; Max-Age=604800; Secure$/);
    } finally {
      await secureApp.close();
    }
  });

  it('gives each login its own session: two devices stay signed in together', async () => {
    const email = await registeredUser(app);
    const phone = sessionCookieOf(await sendForm(app, 'POST', '/sessions', { email, password: PASSWORD }));
    const laptop = sessionCookieOf(await sendForm(app, 'POST', '/sessions', { email, password: PASSWORD }));
    expect(phone).not.toBe(laptop);
    expect((await sendEmpty(app, 'GET', '/profile', phone)).statusCode).toBe(200);
    expect((await sendEmpty(app, 'GET', '/profile', laptop)).statusCode).toBe(200);
  });
});

describe('GET /profile', () => {
  it('answers 200 {"email": ...} for a valid session', async () => {
    const { email, cookie } = await signedInUser(app);
    const response = await sendEmpty(app, 'GET', '/profile', cookie);
    expect(response.statusCode).toBe(200);
    expect(response.body).toBe(JSON.stringify({ email }));
  });

  it.each([
    ['no cookie', undefined],
    ['an unknown session cookie', `session_id=${'A'.repeat(43)}`],
    ['a malformed session cookie', 'session_id=not-a-token'],
    ['an empty session cookie', 'session_id='],
    ['another cookie only', 'theme=dark'],
  ])('answers 403 with %s', async (_case, cookie) => {
    const response = await sendEmpty(app, 'GET', '/profile', cookie);
    expect(response.statusCode).toBe(403);
    expect(response.json()).toEqual({ message: 'no valid session' });
  });

  it('finds the session among other cookies', async () => {
    const { email, cookie } = await signedInUser(app);
    const response = await sendEmpty(app, 'GET', '/profile', `theme=dark; ${cookie}; lang=fr`);
    expect(response.json()).toEqual({ email });
  });
});

describe('sliding expiry on the wire', () => {
  const MINUTE_SECONDS = 60;
  const DAY_SECONDS = 24 * 60 * MINUTE_SECONDS;
  const maxAgeOf = (cookie: string): string =>
    cookie.split('; ').find((part) => part.startsWith('Max-Age=')) ?? '';

  it('re-sends the same cookie with a fresh Max-Age once an hour has passed, and not before', async () => {
    const { email, cookie } = await signedInUser(app);
    app.clock.advanceSeconds(30 * MINUTE_SECONDS);
    const soon = await sendEmpty(app, 'GET', '/profile', cookie);
    expect(soon.json()).toEqual({ email });
    expect(setCookies(soon)).toEqual([]);

    app.clock.advanceSeconds(31 * MINUTE_SECONDS);
    const later = await sendEmpty(app, 'GET', '/profile', cookie);
    expect(later.json()).toEqual({ email });
    expect(setCookies(later)).toEqual([`${cookie}; Path=/; HttpOnly; SameSite=Lax; Max-Age=604800`]);
  });

  it('shortens the re-sent Max-Age to what is left before the 30-day cap', async () => {
    const { cookie } = await signedInUser(app);
    // Used every 6 days: a full idle week each time until the cap (login + 30 days) is nearer than that.
    for (const expected of [7, 7, 7, 6].map((days) => `Max-Age=${days * DAY_SECONDS}`)) {
      app.clock.advanceSeconds(6 * DAY_SECONDS);
      expect(setCookies(await sendEmpty(app, 'GET', '/profile', cookie)).map(maxAgeOf)).toEqual([expected]);
    }
    app.clock.advanceSeconds(5 * DAY_SECONDS);
    const dayTwentyNine = await sendEmpty(app, 'GET', '/profile', cookie);
    expect(dayTwentyNine.statusCode).toBe(200);
    expect(setCookies(dayTwentyNine).map(maxAgeOf)).toEqual([`Max-Age=${DAY_SECONDS}`]);
    app.clock.advanceSeconds(DAY_SECONDS);
    expect((await sendEmpty(app, 'GET', '/profile', cookie)).statusCode).toBe(403);
  });

  it('answers 403 once the session has been idle for 7 days', async () => {
    const { cookie } = await signedInUser(app);
    app.clock.advanceSeconds(7 * DAY_SECONDS);
    expect((await sendEmpty(app, 'GET', '/profile', cookie)).statusCode).toBe(403);
  });
});

describe('DELETE /sessions', () => {
  it('ends the session, clears the cookie and redirects to / with 302', async () => {
    const { cookie } = await signedInUser(app);
    const response = await sendEmpty(app, 'DELETE', '/sessions', cookie);
    expect(response.statusCode).toBe(302);
    expect(response.headers.location).toBe('/');
    expect(setCookies(response)).toEqual([CLEARED_SESSION_COOKIE]);
    expect((await sendEmpty(app, 'GET', '/profile', cookie)).statusCode).toBe(403);
  });

  it('ends only that session: the other device stays signed in', async () => {
    const { email, cookie } = await signedInUser(app);
    const other = sessionCookieOf(await sendForm(app, 'POST', '/sessions', { email, password: PASSWORD }));
    await sendEmpty(app, 'DELETE', '/sessions', cookie);
    expect((await sendEmpty(app, 'GET', '/profile', other)).statusCode).toBe(200);
  });

  it.each([
    ['no cookie', undefined],
    ['an unknown session cookie', `session_id=${'B'.repeat(43)}`],
    ['a malformed session cookie', 'session_id=%%%'],
  ])('answers 403 with %s', async (_case, cookie) => {
    const response = await sendEmpty(app, 'DELETE', '/sessions', cookie);
    expect(response.statusCode).toBe(403);
    expect(response.json()).toEqual({ message: 'no valid session' });
  });

  it('answers 403 the second time the same session logs out', async () => {
    const { cookie } = await signedInUser(app);
    expect((await sendEmpty(app, 'DELETE', '/sessions', cookie)).statusCode).toBe(302);
    expect((await sendEmpty(app, 'DELETE', '/sessions', cookie)).statusCode).toBe(403);
  });
});

describe('POST /reset_password', () => {
  it('answers 200 with the email and a reset token', async () => {
    const email = await registeredUser(app);
    const response = await sendForm(app, 'POST', '/reset_password', { email });
    expect(response.statusCode).toBe(200);
    const body = response.json<{ email: string; reset_token: string }>();
    expect(Object.keys(body)).toEqual(['email', 'reset_token']);
    expect(body.email).toBe(email);
    expect(body.reset_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('answers 403 for an unknown email', async () => {
    const response = await sendForm(app, 'POST', '/reset_password', { email: uniqueEmail('ghost') });
    expect(response.statusCode).toBe(403);
    expect(response.json()).toEqual({ message: 'email not registered' });
  });

  it.each([
    [{}, 'email is required'],
    [{ email: 'no-at-sign' }, ONE_AT_SIGN],
  ])('answers 400 for %j', async (fields, message) => {
    const response = await sendForm(app, 'POST', '/reset_password', fields);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ message });
  });
});

describe('PUT /reset_password', () => {
  async function tokenFor(email: string): Promise<string> {
    return (await sendForm(app, 'POST', '/reset_password', { email })).json<{ reset_token: string }>()
      .reset_token;
  }

  it('updates the password: 200, old password 401, new password 200', async () => {
    const email = await registeredUser(app);
    const response = await sendForm(app, 'PUT', '/reset_password', {
      email,
      reset_token: await tokenFor(email),
      new_password: NEW_PASSWORD,
    });
    expect(response.statusCode).toBe(200);
    expect(response.body).toBe(JSON.stringify({ email, message: 'Password updated' }));
    expect((await sendForm(app, 'POST', '/sessions', { email, password: PASSWORD })).statusCode).toBe(401);
    expect((await sendForm(app, 'POST', '/sessions', { email, password: NEW_PASSWORD })).statusCode).toBe(
      200,
    );
  });

  it('ends every session of the user', async () => {
    const { email, cookie } = await signedInUser(app);
    const token = await tokenFor(email);
    await sendForm(app, 'PUT', '/reset_password', { email, reset_token: token, new_password: NEW_PASSWORD });
    expect((await sendEmpty(app, 'GET', '/profile', cookie)).statusCode).toBe(403);
  });

  it('answers 403 when the token is used a second time', async () => {
    const email = await registeredUser(app);
    const token = await tokenFor(email);
    const first = await sendForm(app, 'PUT', '/reset_password', {
      email,
      reset_token: token,
      new_password: NEW_PASSWORD,
    });
    expect(first.statusCode).toBe(200);
    const second = await sendForm(app, 'PUT', '/reset_password', {
      email,
      reset_token: token,
      new_password: PASSWORD,
    });
    expect(second.statusCode).toBe(403);
    expect(second.json()).toEqual({ message: 'invalid or expired reset token' });
  });

  it('answers 403 when the token belongs to another email', async () => {
    const owner = await registeredUser(app);
    const other = await registeredUser(app);
    const token = await tokenFor(owner);
    const response = await sendForm(app, 'PUT', '/reset_password', {
      email: other,
      reset_token: token,
      new_password: NEW_PASSWORD,
    });
    expect(response.statusCode).toBe(403);
  });

  it('accepts an older token after a newer one was requested, and then refuses the newer one with 403', async () => {
    // A request anyone can make must not void the link the owner already holds; one reset ends every token.
    const email = await registeredUser(app);
    const older = await tokenFor(email);
    const newer = await tokenFor(email);
    const first = await sendForm(app, 'PUT', '/reset_password', {
      email,
      reset_token: older,
      new_password: NEW_PASSWORD,
    });
    expect(first.statusCode).toBe(200);
    expect(first.body).toBe(JSON.stringify({ email, message: 'Password updated' }));
    const second = await sendForm(app, 'PUT', '/reset_password', {
      email,
      reset_token: newer,
      new_password: PASSWORD,
    });
    expect(second.statusCode).toBe(403);
    expect(second.body).toBe('{"message":"invalid or expired reset token"}');
  });

  it('answers 403 once the token is older than an hour', async () => {
    const email = await registeredUser(app);
    const token = await tokenFor(email);
    app.clock.advanceSeconds(3600);
    const response = await sendForm(app, 'PUT', '/reset_password', {
      email,
      reset_token: token,
      new_password: NEW_PASSWORD,
    });
    expect(response.statusCode).toBe(403);
  });

  it.each([
    ['an unknown token', 'C'.repeat(43)],
    ['a malformed token', 'short'],
  ])('answers 403 for %s', async (_case, token) => {
    const email = await registeredUser(app);
    const response = await sendForm(app, 'PUT', '/reset_password', {
      email,
      reset_token: token,
      new_password: NEW_PASSWORD,
    });
    expect(response.statusCode).toBe(403);
  });

  it('answers 400 when the new password breaks the policy, and the token stays usable', async () => {
    const email = await registeredUser(app);
    const token = await tokenFor(email);
    const weak = await sendForm(app, 'PUT', '/reset_password', {
      email,
      reset_token: token,
      new_password: 'short',
    });
    expect(weak.statusCode).toBe(400);
    expect(weak.json()).toEqual({ message: 'new password must be at least 8 bytes long' });
    const ok = await sendForm(app, 'PUT', '/reset_password', {
      email,
      reset_token: token,
      new_password: NEW_PASSWORD,
    });
    expect(ok.statusCode).toBe(200);
  });

  it.each(['email', 'reset_token', 'new_password'])(
    'answers 400 naming %s when it is missing',
    async (field) => {
      const fields: Record<string, string> = {
        email: 'a@example.com',
        reset_token: 'D'.repeat(43),
        new_password: NEW_PASSWORD,
      };
      delete fields[field];
      const response = await sendForm(app, 'PUT', '/reset_password', fields);
      expect(response.statusCode).toBe(400);
      expect(response.json()).toEqual({ message: `${field} is required` });
    },
  );
});

describe('request rules', () => {
  it('answers 404 JSON for an unknown route', async () => {
    const response = await sendEmpty(app, 'GET', '/nope');
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ message: 'not found' });
  });

  it('answers 404 JSON for a known path with an unsupported method', async () => {
    const response = await sendEmpty(app, 'PATCH' as 'GET', '/users');
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ message: 'not found' });
  });

  it.each(['text/plain', 'application/xml', 'multipart/form-data; boundary=x'])(
    'answers 415 JSON for %s',
    async (type) => {
      const response = await app.server.inject({
        method: 'POST',
        url: '/users',
        payload: 'email=a',
        headers: { 'content-type': type },
      });
      expect(response.statusCode).toBe(415);
      expect(response.json()).toEqual({
        message: 'unsupported content type: use application/x-www-form-urlencoded or application/json',
      });
    },
  );

  it('answers 413 JSON for a body over the limit', async () => {
    const response = await sendForm(app, 'POST', '/users', {
      email: 'a@example.com',
      password: 'x'.repeat(70 * 1024),
    });
    expect(response.statusCode).toBe(413);
    expect(response.json()).toEqual({ message: 'request body too large' });
  });

  it('answers 400 JSON for malformed JSON', async () => {
    const response = await app.server.inject({
      method: 'POST',
      url: '/users',
      payload: '{"email": ',
      headers: { 'content-type': 'application/json' },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ message: 'malformed request body' });
  });

  it('answers 400 naming the field when the body is missing altogether', async () => {
    const response = await sendEmpty(app, 'POST', '/users');
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ message: 'email is required' });
  });

  it('answers 400 when a JSON body is an array', async () => {
    const response = await sendJson(app, 'POST', '/sessions', [1, 2]);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ message: 'email is required' });
  });
});
