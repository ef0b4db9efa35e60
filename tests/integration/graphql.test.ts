// The GraphQL API through the real app: every operation, every error code, the session cookie, CSRF and error hiding.
import { dropAccountTables } from '../helpers/faults';
import { createTestApp, type TestApp } from '../helpers/test-app';
import {
  errorCodes,
  graphql,
  LOGIN,
  LOGOUT,
  PROFILE,
  REGISTER,
  REQUEST_RESET,
  RESET,
} from '../helpers/graphql';
import { CLEARED_SESSION_COOKIE, sendEmpty, sendForm, sessionCookieOf, setCookies } from '../helpers/http';
import { NEW_PASSWORD, PASSWORD, registeredUser, signedInUser, uniqueEmail } from '../helpers/factories';

interface UserData {
  id: string;
  email: string;
  createdAt: string;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** A SHA-256 hex digest, such as a session token's stored hash. */
const SHA256_HEX_RUN = /[a-f0-9]{64}/;
/** The start of a bcrypt hash: $2a$, $2b$ or $2y$ and the cost. */
const BCRYPT_HASH_START = /\$2[aby]\$\d{2}\$/;

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});
afterAll(async () => {
  await app.close();
});

describe('register', () => {
  it('creates an account and returns id, normalised email and createdAt', async () => {
    const email = uniqueEmail();
    const answer = await graphql<{ register: UserData }>(app, REGISTER, {
      email: ` ${email.toUpperCase()}`,
      password: PASSWORD,
    });
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.register.email).toBe(email);
    expect(answer.data?.register.id).toMatch(/^\d+$/);
    expect(answer.data?.register.createdAt).toMatch(ISO_DATE);
    expect(setCookies(answer.response)).toEqual([]);
  });

  it('answers EMAIL_TAKEN for an email registered through REST', async () => {
    const email = await registeredUser(app);
    const answer = await graphql(app, REGISTER, { email, password: PASSWORD });
    expect(errorCodes(answer)).toEqual(['EMAIL_TAKEN']);
    expect(answer.errors?.[0].message).toBe('email already registered');
    expect(answer.errors?.[0].path).toEqual(['register']);
    expect(answer.data).toBeNull();
  });

  it.each([
    [
      'a malformed email',
      { email: 'nobody', password: PASSWORD },
      'email must have exactly one @ with a name before it and a domain after it',
    ],
    [
      'a short password',
      { email: 'a@example.com', password: 'short' },
      'password must be at least 8 bytes long',
    ],
    [
      'a password over 72 bytes',
      { email: 'a@example.com', password: 'z'.repeat(73) },
      'password must be at most 72 bytes long in UTF-8 (bcrypt ignores anything longer)',
    ],
  ])('answers BAD_USER_INPUT for %s', async (_case, variables, message) => {
    const answer = await graphql(app, REGISTER, variables);
    expect(errorCodes(answer)).toEqual(['BAD_USER_INPUT']);
    expect(answer.errors?.[0].message).toBe(message);
  });

  it('answers BAD_USER_INPUT with status 400 for a missing variable, without echoing values', async () => {
    const answer = await graphql(app, REGISTER, { email: 'a@example.com' });
    expect(answer.response.statusCode).toBe(400);
    expect(errorCodes(answer)).toEqual(['BAD_USER_INPUT']);
  });

  it('never echoes a wrongly typed password back in the error', async () => {
    const answer = await graphql(app, REGISTER, { email: 'a@example.com', password: 98765432 });
    expect(errorCodes(answer)).toEqual(['BAD_USER_INPUT']);
    expect(answer.response.body).not.toContain('98765432');
  });
});

describe('login', () => {
  it('returns the user and sets the same session cookie as POST /sessions', async () => {
    const email = await registeredUser(app);
    const answer = await graphql<{ login: UserData }>(app, LOGIN, { email, password: PASSWORD });
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.login.email).toBe(email);
    const cookies = setCookies(answer.response);
    expect(cookies).toHaveLength(1);
    expect(cookies[0]).toMatch(
      /^session_id=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=604800$/,
    );
  });

  it('gives a cookie the REST shim accepts', async () => {
    const email = await registeredUser(app);
    const answer = await graphql(app, LOGIN, { email, password: PASSWORD });
    const rest = await sendEmpty(app, 'GET', '/profile', sessionCookieOf(answer.response));
    expect(rest.json()).toEqual({ email });
  });

  it.each([
    ['a wrong password', 'wrong password'],
    ['an overlong password', `${PASSWORD}${'x'.repeat(80)}`],
  ])('answers INVALID_CREDENTIALS for %s, with no cookie', async (_case, password) => {
    const email = await registeredUser(app);
    const answer = await graphql(app, LOGIN, { email, password });
    expect(errorCodes(answer)).toEqual(['INVALID_CREDENTIALS']);
    expect(answer.errors?.[0].message).toBe('invalid email or password');
    expect(setCookies(answer.response)).toEqual([]);
  });

  it('answers INVALID_CREDENTIALS with the same message for an unknown email', async () => {
    const answer = await graphql(app, LOGIN, { email: uniqueEmail('ghost'), password: PASSWORD });
    expect(errorCodes(answer)).toEqual(['INVALID_CREDENTIALS']);
    expect(answer.errors?.[0].message).toBe('invalid email or password');
  });
});

describe('profile', () => {
  it('returns the signed-in user for a REST session cookie', async () => {
    const { email, cookie } = await signedInUser(app);
    const answer = await graphql<{ profile: UserData }>(app, PROFILE, {}, cookie);
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.profile.email).toBe(email);
  });

  it.each([
    ['no cookie', undefined],
    ['an unknown cookie', `session_id=${'Q'.repeat(43)}`],
    ['a malformed cookie', 'session_id=%zz'],
  ])('returns null with %s, and no error', async (_case, cookie) => {
    const answer = await graphql(app, PROFILE, {}, cookie);
    expect(answer.errors).toBeUndefined();
    expect(answer.data).toEqual({ profile: null });
  });

  it('answers aliased profile fields from the same session', async () => {
    const { email, cookie } = await signedInUser(app);
    const answer = await graphql<{ a: UserData; b: UserData }>(
      app,
      '{ a: profile { email } b: profile { email } }',
      {},
      cookie,
    );
    expect(answer.data).toEqual({ a: { email }, b: { email } });
  });

  it('never exposes a password, hash, token or session field', async () => {
    const { cookie } = await signedInUser(app);
    for (const field of ['hashedPassword', 'password', 'resetToken', 'sessions', 'sessionId']) {
      const answer = await graphql(app, `{ profile { ${field} } }`, {}, cookie);
      expect(errorCodes(answer)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    }
  });
});

describe('logout', () => {
  it('ends the session, clears the cookie and returns true', async () => {
    const { cookie } = await signedInUser(app);
    const answer = await graphql(app, LOGOUT, {}, cookie);
    expect(answer.data).toEqual({ logout: true });
    expect(setCookies(answer.response)).toEqual([CLEARED_SESSION_COOKIE]);
    expect((await graphql(app, PROFILE, {}, cookie)).data).toEqual({ profile: null });
    expect((await sendEmpty(app, 'GET', '/profile', cookie)).statusCode).toBe(403);
  });

  it('returns false without a valid session, and still clears the cookie', async () => {
    const answer = await graphql(app, LOGOUT, {}, `session_id=${'R'.repeat(43)}`);
    expect(answer.data).toEqual({ logout: false });
    expect(setCookies(answer.response)).toEqual([CLEARED_SESSION_COOKIE]);
  });
});

describe('requestPasswordReset and resetPassword', () => {
  it('reset the password end to end, ending every session', async () => {
    const { email, cookie } = await signedInUser(app);
    const request = await graphql<{ requestPasswordReset: { email: string; resetToken: string } }>(
      app,
      REQUEST_RESET,
      { email },
    );
    expect(request.data?.requestPasswordReset.email).toBe(email);
    const resetToken = request.data?.requestPasswordReset.resetToken ?? '';
    expect(resetToken).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const reset = await graphql(app, RESET, { email, resetToken, newPassword: NEW_PASSWORD });
    expect(reset.errors).toBeUndefined();
    expect(reset.data).toEqual({ resetPassword: true });
    expect((await graphql(app, PROFILE, {}, cookie)).data).toEqual({ profile: null });
    expect(errorCodes(await graphql(app, LOGIN, { email, password: PASSWORD }))).toEqual([
      'INVALID_CREDENTIALS',
    ]);
    expect((await graphql(app, LOGIN, { email, password: NEW_PASSWORD })).errors).toBeUndefined();
  });

  it('answers EMAIL_NOT_REGISTERED for an unknown email', async () => {
    const answer = await graphql(app, REQUEST_RESET, { email: uniqueEmail('ghost') });
    expect(errorCodes(answer)).toEqual(['EMAIL_NOT_REGISTERED']);
    expect(answer.errors?.[0].message).toBe('email not registered');
  });

  it('answers INVALID_RESET_TOKEN for a used, wrong or expired token', async () => {
    const email = await registeredUser(app);
    const token = async (): Promise<string> =>
      (await graphql<{ requestPasswordReset: { resetToken: string } }>(app, REQUEST_RESET, { email })).data
        ?.requestPasswordReset.resetToken ?? '';

    const used = await token();
    expect((await graphql(app, RESET, { email, resetToken: used, newPassword: NEW_PASSWORD })).data).toEqual({
      resetPassword: true,
    });
    const again = await graphql(app, RESET, { email, resetToken: used, newPassword: PASSWORD });
    expect(errorCodes(again)).toEqual(['INVALID_RESET_TOKEN']);
    expect(again.errors?.[0].message).toBe('invalid or expired reset token');

    expect(
      errorCodes(await graphql(app, RESET, { email, resetToken: 'S'.repeat(43), newPassword: PASSWORD })),
    ).toEqual(['INVALID_RESET_TOKEN']);

    const expiring = await token();
    app.clock.advanceSeconds(3601);
    expect(
      errorCodes(await graphql(app, RESET, { email, resetToken: expiring, newPassword: PASSWORD })),
    ).toEqual(['INVALID_RESET_TOKEN']);
  });

  it('answers BAD_USER_INPUT when the new password breaks the policy', async () => {
    const email = await registeredUser(app);
    const answer = await graphql(app, RESET, { email, resetToken: 'T'.repeat(43), newPassword: 'short' });
    expect(errorCodes(answer)).toEqual(['BAD_USER_INPUT']);
    expect(answer.errors?.[0].message).toBe('new password must be at least 8 bytes long');
  });
});

describe('transport rules', () => {
  it('keeps Apollo CSRF prevention on: a form-encoded POST is refused with 400', async () => {
    const response = await sendForm(app, 'POST', '/graphql', { query: '{ profile { email } }' });
    expect(response.statusCode).toBe(400);
    expect(response.body).toContain('CSRF');
  });

  it('answers a GET query that carries a preflight header', async () => {
    const response = await app.server.inject({
      method: 'GET',
      url: `/graphql?query=${encodeURIComponent('{ profile { email } }')}`,
      headers: { 'apollo-require-preflight': 'true' },
    });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ data: { profile: null } });
  });

  it('answers GRAPHQL_PARSE_FAILED for a garbage document', async () => {
    const answer = await graphql(app, '{ profile { ');
    expect(answer.response.statusCode).toBe(400);
    expect(errorCodes(answer)).toEqual(['GRAPHQL_PARSE_FAILED']);
  });

  it('answers 400, not 500, to a malformed Host header', async () => {
    const response = await app.server.inject({
      method: 'POST',
      url: '/graphql',
      payload: JSON.stringify({ query: '{ profile { email } }' }),
      headers: { 'content-type': 'application/json', host: 'bad host' },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ message: 'malformed Host header' });
  });
});

describe('unexpected failures', () => {
  it('answers INTERNAL_SERVER_ERROR without details on GraphQL, and 500 with a request id on REST', async () => {
    const broken = await createTestApp();
    try {
      // Simulate a database fault the code does not expect: the users table disappears.
      await dropAccountTables(broken);
      const password = 'secret-password-77';
      const answer = await graphql(broken, LOGIN, { email: 'x@example.com', password });
      expect(answer.errors).toEqual([
        {
          message: 'internal server error',
          locations: [{ line: 2, column: 3 }],
          path: ['login'],
          extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: answer.response.headers['x-request-id'] },
        },
      ]);
      expect(answer.response.body).not.toMatch(/users|sql|stack/i);

      const rest = await sendForm(broken, 'POST', '/users', { email: 'y@example.com', password });
      expect(rest.statusCode).toBe(500);
      const body = rest.json<{ message: string; requestId: string }>();
      expect(body).toEqual({ message: 'internal server error', requestId: expect.any(String) as string });
      const logged = broken.logLines.join('\n');
      expect(logged).toContain(body.requestId);
      // SQLite and PostgreSQL word it differently.
      expect(logged).toMatch(/no such table|does not exist/);
      expect(logged).not.toContain(password);
    } finally {
      await broken.close();
    }
  });

  it('logs a failed REST login under its request id with the token hash in the failing SQL redacted', async () => {
    const broken = await createTestApp();
    try {
      const email = await registeredUser(broken);
      // The session INSERT then fails, and MikroORM's message quotes the statement with the token hash inlined.
      await broken.orm.em.getConnection().execute('drop table sessions');
      const rest = await sendForm(broken, 'POST', '/sessions', { email, password: PASSWORD });
      expect(rest.statusCode).toBe(500);
      const { requestId } = rest.json<{ requestId: string }>();

      type LogLine = { reqId?: string; msg: string };
      const linesOfRequest = broken.logLines.filter(
        (line) => (JSON.parse(line) as LogLine).reqId === requestId,
      );
      const failures = linesOfRequest.filter(
        (line) => (JSON.parse(line) as LogLine).msg === 'request failed',
      );
      expect(failures).toHaveLength(1);
      expect(failures[0]).toMatch(/insert into [`\\"]+sessions[`\\"]+/);
      expect(failures[0]).toMatch(/no such table: sessions|relation \\+"sessions\\+" does not exist/);
      expect(failures[0]).toContain('[redacted]');
      for (const line of linesOfRequest) {
        expect(line).not.toMatch(SHA256_HEX_RUN);
        expect(line).not.toMatch(BCRYPT_HASH_START);
      }
    } finally {
      await broken.close();
    }
  });
});

describe('NODE_ENV=production', () => {
  /** The level-40 (warn) messages an app logged. */
  function warningsOf(app: TestApp): string[] {
    return app.logLines
      .map((line) => JSON.parse(line) as { level: number; msg: string })
      .filter((line) => line.level === 40)
      .map((line) => line.msg);
  }

  it('turns introspection off and, sending reset tokens by email by default, gives no reset-token warning', async () => {
    const production = await createTestApp({ NODE_ENV: 'production', RATE_LIMIT: 'on' });
    try {
      const answer = await graphql(production, '{ __schema { queryType { name } } }');
      expect(errorCodes(answer)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
      expect(warningsOf(production)).toEqual([]);
    } finally {
      await production.close();
    }
  });

  it('warns at every start when told to return reset tokens in responses anyway', async () => {
    const production = await createTestApp({
      NODE_ENV: 'production',
      RATE_LIMIT: 'on',
      RESET_TOKEN_DELIVERY: 'response',
      ALLOW_INSECURE_RESET_DELIVERY: 'true',
    });
    try {
      expect(warningsOf(production)).toEqual([
        expect.stringContaining('password reset tokens are returned in API responses') as string,
      ]);
    } finally {
      await production.close();
    }
  });
});
