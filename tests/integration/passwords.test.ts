// Password features through the real app, REST and GraphQL: changePassword, rehash on login, common and name checks, NFKC.
import bcrypt from 'bcrypt';
import type { LightMyRequestResponse } from 'fastify';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { sendEmpty, sendForm, sessionCookieOf } from '../helpers/http';
import {
  errorCodes,
  graphql,
  LOGIN,
  REGISTER,
  REQUEST_RESET,
  RESET,
  type GraphQLAnswer,
} from '../helpers/graphql';
import { NEW_PASSWORD, PASSWORD, registeredUser, signedInUser, uniqueEmail } from '../helpers/factories';

/** The changePassword mutation with variables $currentPassword and $newPassword. */
const CHANGE_PASSWORD = `mutation ChangePassword($currentPassword: String!, $newPassword: String!) {
  changePassword(currentPassword: $currentPassword, newPassword: $newPassword)
}`;
/** The caller's sessions, marking the current one. */
const SESSIONS = `query Sessions { sessions { id current } }`;
/** The caller's security events, newest first. */
const SECURITY_EVENTS = `query Events { securityEvents(limit: 10) { type reason } }`;

const CLIENT = '127.0.0.1';
const TOO_COMMON = 'is too common: it is on a list of frequently used passwords';
const HAS_NAME = 'must not contain the name of the email address';
const TOO_LONG = 'must be at most 72 bytes long in UTF-8 (bcrypt ignores anything longer)';
const INVALID_CREDENTIALS = 'invalid email or password';

/** U+FDFA: one character, 3 UTF-8 bytes, whose NFKC form is 18 characters and 33 bytes. */
const LIGATURE = '\uFDFA';
const COMPOSED = 'caf\u00E9-au-lait-42';
const DECOMPOSED = 'cafe\u0301-au-lait-42';
const FULL_WIDTH = 'code-\uFF11\uFF12\uFF13-word';
const ASCII_DIGITS = 'code-123-word';

// Counts calls into the real bcrypt (the implementation is kept): the instrument, not a stand-in.
const compare = jest.spyOn(bcrypt, 'compare');
const hash = jest.spyOn(bcrypt, 'hash');

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});
afterAll(async () => {
  compare.mockRestore();
  hash.mockRestore();
  await app.close();
});

/** Closes every app a test opened with `appWith`, after that test. */
const openApps: TestApp[] = [];
afterEach(async () => {
  await Promise.all(openApps.splice(0).map((opened) => opened.close()));
});

/** A fresh app (fresh database and counters) with `env`, closed after the test. */
async function appWith(env: Record<string, string>): Promise<TestApp> {
  const opened = await createTestApp(env);
  openApps.push(opened);
  return opened;
}

/** The bcrypt hash stored for an email, read with raw SQL. */
async function storedHash(on: TestApp, email: string): Promise<string> {
  const rows = await on.orm.em
    .getConnection()
    .execute<{ hashed_password: string }[]>('select hashed_password from users where email = ?', [email]);
  expect(rows).toHaveLength(1);
  return rows[0].hashed_password;
}

/** Overwrites the stored hash for an email with raw SQL, as an account from an older deployment would have. */
async function storeHash(on: TestApp, email: string, hashedPassword: string): Promise<void> {
  await on.orm.em
    .getConnection()
    .execute('update users set hashed_password = ? where email = ?', [hashedPassword, email]);
  expect(await storedHash(on, email)).toBe(hashedPassword);
}

/** POST /sessions with these credentials. */
function restLogin(on: TestApp, email: string, password: string): Promise<LightMyRequestResponse> {
  return sendForm(on, 'POST', '/sessions', { email, password });
}

/** The status GET /profile answers for a cookie. */
async function profileStatus(on: TestApp, cookie: string): Promise<number> {
  return (await sendEmpty(on, 'GET', '/profile', cookie)).statusCode;
}

/** Runs changePassword with a session cookie. */
function changePassword(
  on: TestApp,
  cookie: string | undefined,
  currentPassword: string,
  newPassword: string,
): Promise<GraphQLAnswer<{ changePassword: boolean }>> {
  return graphql<{ changePassword: boolean }>(on, CHANGE_PASSWORD, { currentPassword, newPassword }, cookie);
}

/** A fresh reset token for a registered email, from POST /reset_password (tokens come back in tests). */
async function resetTokenFor(on: TestApp, email: string): Promise<string> {
  const response = await sendForm(on, 'POST', '/reset_password', { email });
  expect(response.statusCode).toBe(200);
  return response.json<{ reset_token: string }>().reset_token;
}

/** The one error a GraphQL answer has, as [code, message], with no data. */
function onlyError(answer: GraphQLAnswer<unknown>): [string | undefined, string] {
  expect(answer.data).toBeNull();
  expect(answer.errors).toHaveLength(1);
  const [error] = answer.errors ?? [];
  return [error.extensions?.code, error.message];
}

/** 'accepted' for a 200, else the message of a 400 (any other status fails the test). */
function restOutcome(response: LightMyRequestResponse): string {
  if (response.statusCode === 200) return 'accepted';
  expect(response.statusCode).toBe(400);
  return response.json<{ message: string }>().message;
}

/** 'accepted' when a GraphQL answer has no errors, else the message of its one BAD_USER_INPUT error. */
function graphqlOutcome(answer: GraphQLAnswer<unknown>): string {
  if (answer.errors === undefined) return 'accepted';
  const [code, message] = onlyError(answer);
  expect(code).toBe('BAD_USER_INPUT');
  return message;
}

/** One way a new password reaches the policy, both transports, every operation that sets a password. */
interface PasswordPath {
  readonly name: string;
  /** How the path's messages name the password. */
  readonly field: 'password' | 'new password';
  /** Sets `password` for `email` this way, registering the account first when the path needs one. */
  readonly attempt: (email: string, password: string) => Promise<string>;
}

/** Registers `email` with the factory PASSWORD through REST; fails the test otherwise. */
async function register(email: string): Promise<void> {
  const response = await sendForm(app, 'POST', '/users', { email, password: PASSWORD });
  expect(response.statusCode).toBe(200);
}

const PATHS: PasswordPath[] = [
  {
    name: 'POST /users',
    field: 'password',
    attempt: async (email, password) =>
      restOutcome(await sendForm(app, 'POST', '/users', { email, password })),
  },
  {
    name: 'GraphQL register',
    field: 'password',
    attempt: async (email, password) => graphqlOutcome(await graphql(app, REGISTER, { email, password })),
  },
  {
    name: 'PUT /reset_password',
    field: 'new password',
    attempt: async (email, password) => {
      await register(email);
      const fields = { email, reset_token: await resetTokenFor(app, email), new_password: password };
      return restOutcome(await sendForm(app, 'PUT', '/reset_password', fields));
    },
  },
  {
    name: 'GraphQL resetPassword',
    field: 'new password',
    attempt: async (email, password) => {
      await register(email);
      const variables = { email, resetToken: await resetTokenFor(app, email), newPassword: password };
      return graphqlOutcome(await graphql(app, RESET, variables));
    },
  },
  {
    name: 'GraphQL changePassword',
    field: 'new password',
    attempt: async (email, password) => {
      await register(email);
      const cookie = sessionCookieOf(await restLogin(app, email, PASSWORD));
      const answer = await changePassword(app, cookie, PASSWORD, password);
      if (answer.errors === undefined) expect(answer.data).toEqual({ changePassword: true });
      return graphqlOutcome(answer);
    },
  },
];

/** A fresh email whose local part is `jdoesmith-<pid>-<n>` (and that name, for building passwords). */
function namedEmail(tag = ''): { email: string; name: string } {
  const name = uniqueEmail('jdoesmith').split('@')[0];
  return { email: `${name}${tag}@example.com`, name };
}

describe('changePassword', () => {
  it('answers UNAUTHENTICATED without a session, with an unknown cookie and with an ended session', async () => {
    const { email, cookie } = await signedInUser(app);
    expect((await sendEmpty(app, 'DELETE', '/sessions', cookie)).statusCode).toBe(302);
    for (const sent of [undefined, `session_id=${'A'.repeat(43)}`, cookie]) {
      expect(onlyError(await changePassword(app, sent, PASSWORD, NEW_PASSWORD))).toEqual([
        'UNAUTHENTICATED',
        'no valid session',
      ]);
    }
    expect((await restLogin(app, email, PASSWORD)).statusCode).toBe(200);
  });

  it('makes a reset token asked for before the change useless', async () => {
    const { email, cookie } = await signedInUser(app);
    const token = await resetTokenFor(app, email);
    expect((await changePassword(app, cookie, PASSWORD, NEW_PASSWORD)).data).toEqual({
      changePassword: true,
    });
    const fields = { email, reset_token: token, new_password: 'another fine passphrase 7' };
    const reset = await sendForm(app, 'PUT', '/reset_password', fields);
    expect([reset.statusCode, reset.json()]).toEqual([403, { message: 'invalid or expired reset token' }]);
    expect((await restLogin(app, email, NEW_PASSWORD)).statusCode).toBe(200);
  });

  it('answers true; the old password stops working and the new one works', async () => {
    const { email, cookie } = await signedInUser(app);
    const answer = await changePassword(app, cookie, PASSWORD, NEW_PASSWORD);
    expect(answer.errors).toBeUndefined();
    expect(answer.data).toEqual({ changePassword: true });
    expect(answer.response.statusCode).toBe(200);

    expect((await restLogin(app, email, PASSWORD)).statusCode).toBe(401);
    expect(onlyError(await graphql(app, LOGIN, { email, password: PASSWORD }))).toEqual([
      'INVALID_CREDENTIALS',
      INVALID_CREDENTIALS,
    ]);
    expect((await restLogin(app, email, NEW_PASSWORD)).statusCode).toBe(200);
    expect(errorCodes(await graphql(app, LOGIN, { email, password: NEW_PASSWORD }))).toEqual([]);
  });

  it("ends every other session of the user, keeps the current one and leaves other users' alone", async () => {
    const { email, cookie: current } = await signedInUser(app);
    const others = [
      sessionCookieOf(await restLogin(app, email, PASSWORD)),
      sessionCookieOf(await graphql(app, LOGIN, { email, password: PASSWORD }).then((a) => a.response)),
    ];
    const stranger = await signedInUser(app);

    expect((await changePassword(app, current, PASSWORD, NEW_PASSWORD)).data).toEqual({
      changePassword: true,
    });

    for (const other of others) expect(await profileStatus(app, other)).toBe(403);
    expect(await profileStatus(app, current)).toBe(200);
    const sessions = await graphql<{ sessions: { id: string; current: boolean }[] }>(
      app,
      SESSIONS,
      {},
      current,
    );
    expect(sessions.data?.sessions.map((session) => session.current)).toEqual([true]);
    expect(await profileStatus(app, stranger.cookie)).toBe(200);
  });

  it('answers INVALID_CREDENTIALS for a wrong current password and changes nothing', async () => {
    const { email, cookie } = await signedInUser(app);
    const other = sessionCookieOf(await restLogin(app, email, PASSWORD));
    const before = await storedHash(app, email);
    for (const wrong of ['not the password', 'short', 'x'.repeat(73), NEW_PASSWORD]) {
      expect(onlyError(await changePassword(app, cookie, wrong, NEW_PASSWORD))).toEqual([
        'INVALID_CREDENTIALS',
        INVALID_CREDENTIALS,
      ]);
    }
    expect(await storedHash(app, email)).toBe(before);
    expect(await profileStatus(app, other)).toBe(200);
    expect(await profileStatus(app, cookie)).toBe(200);
    expect((await restLogin(app, email, PASSWORD)).statusCode).toBe(200);
  });

  it.each([
    ['a common password', 'password1', `new password ${TOO_COMMON}`],
    ['a password with the email name', (name: string) => `my-${name}-pw`, `new password ${HAS_NAME}`],
    ['a password too short', 'short', 'new password must be at least 8 bytes long'],
    ['a password over 72 bytes once in NFKC', LIGATURE.repeat(3), `new password ${TOO_LONG}`],
  ])(
    'answers BAD_USER_INPUT for %s as the new one, before any bcrypt compare, and changes nothing',
    async (_case, newPassword, message) => {
      const { email, name } = namedEmail();
      await register(email);
      const cookie = sessionCookieOf(await restLogin(app, email, PASSWORD));
      const other = sessionCookieOf(await restLogin(app, email, PASSWORD));
      const before = await storedHash(app, email);
      const wanted = typeof newPassword === 'string' ? newPassword : newPassword(name);
      compare.mockClear();
      for (const current of [PASSWORD, 'not the password']) {
        expect(onlyError(await changePassword(app, cookie, current, wanted))).toEqual([
          'BAD_USER_INPUT',
          message,
        ]);
      }
      expect(compare).not.toHaveBeenCalled();
      expect(await storedHash(app, email)).toBe(before);
      expect(await profileStatus(app, other)).toBe(200);
    },
  );

  it('spends one bcrypt compare and one hash', async () => {
    const { cookie } = await signedInUser(app);
    compare.mockClear();
    hash.mockClear();
    expect((await changePassword(app, cookie, PASSWORD, NEW_PASSWORD)).data).toEqual({
      changePassword: true,
    });
    expect(compare).toHaveBeenCalledTimes(1);
    expect(hash).toHaveBeenCalledTimes(1);
  });

  it('records a wrong current password as LOGIN_FAILED and the change as PASSWORD_CHANGED', async () => {
    const { cookie } = await signedInUser(app);
    await changePassword(app, cookie, 'not the password', NEW_PASSWORD);
    await changePassword(app, cookie, PASSWORD, NEW_PASSWORD);
    const events = await graphql<{ securityEvents: { type: string; reason: string | null }[] }>(
      app,
      SECURITY_EVENTS,
      {},
      cookie,
    );
    expect(events.data?.securityEvents.slice(0, 2)).toEqual([
      { type: 'PASSWORD_CHANGED', reason: null },
      { type: 'LOGIN_FAILED', reason: 'WRONG_CURRENT_PASSWORD' },
    ]);
  });

  it('runs at most once per operation (GRAPHQL_MAX_AUTH_MUTATIONS): two aliases are refused, nothing runs', async () => {
    const { email, cookie } = await signedInUser(app);
    compare.mockClear();
    const twice = `mutation Twice($p: String!, $n: String!) {
      a: changePassword(currentPassword: $p, newPassword: $n)
      b: changePassword(currentPassword: $n, newPassword: $p)
    }`;
    const answer = await graphql(app, twice, { p: PASSWORD, n: NEW_PASSWORD }, cookie);
    expect(answer.response.statusCode).toBe(400);
    expect(answer.errors?.map((error) => [error.extensions?.code, error.message])).toEqual([
      ['GRAPHQL_VALIDATION_FAILED', '"changePassword" may run at most 1 time per operation; got 2'],
    ]);
    expect(answer.data).toBeUndefined();
    expect(compare).not.toHaveBeenCalled();
    expect((await restLogin(app, email, PASSWORD)).statusCode).toBe(200);
  });

  it('lets a legacy account with a common password change it (only new passwords are checked)', async () => {
    const { email, cookie } = await signedInUser(app);
    await storeHash(app, email, bcrypt.hashSync('password1', 4));
    expect((await changePassword(app, cookie, 'password1', NEW_PASSWORD)).data).toEqual({
      changePassword: true,
    });
    expect((await restLogin(app, email, NEW_PASSWORD)).statusCode).toBe(200);
  });
});

describe('changePassword under the login limits (RATE_LIMIT=on)', () => {
  // A minute-long first back-off, so that a slow machine cannot see it end between two steps of a test.
  const LIMITS_ON = { RATE_LIMIT: 'on', RATE_LIMIT_LOGIN_BACKOFF_INITIAL_SECONDS: '60' };
  const NO_COUNTS = {
    loginPerIp: 0,
    loginFailures: 0,
    loginBackoffSeconds: 0,
    registerPerIp: 0,
    resetRequestPerIp: 0,
    resetRequestPerAccountAndIp: 0,
    resetRequestPerAccount: 0,
  };

  it('counts each wrong current password as a failed login of the account', async () => {
    const limited = await appWith(LIMITS_ON);
    const { email, cookie } = await signedInUser(limited);
    expect((await limited.limits.counters(CLIENT, email)).loginFailures).toBe(0);
    for (const failures of [1, 2]) {
      expect(errorCodes(await changePassword(limited, cookie, 'not the password', NEW_PASSWORD))).toEqual([
        'INVALID_CREDENTIALS',
      ]);
      expect((await limited.limits.counters(CLIENT, email)).loginFailures).toBe(failures);
    }
  });

  it('answers RATE_LIMITED after 5 wrong current passwords, even for the right one, and so does login', async () => {
    const limited = await appWith(LIMITS_ON);
    const { email, cookie } = await signedInUser(limited);
    for (let i = 0; i < 5; i += 1) {
      expect(errorCodes(await changePassword(limited, cookie, 'not the password', NEW_PASSWORD))).toEqual([
        'INVALID_CREDENTIALS',
      ]);
    }
    const refused = await changePassword(limited, cookie, PASSWORD, NEW_PASSWORD);
    expect(onlyError(refused)).toEqual(['RATE_LIMITED', 'too many attempts, try again later']);
    expect(refused.errors?.[0].extensions?.retryAfterSeconds).toBe(60);
    expect(await limited.limits.counters(CLIENT, email)).toEqual({
      ...NO_COUNTS,
      loginPerIp: 7,
      loginFailures: 5,
      loginBackoffSeconds: 60,
      registerPerIp: 1,
    });
    expect((await restLogin(limited, email, PASSWORD)).statusCode).toBe(429);
    expect((await restLogin(limited, email, NEW_PASSWORD)).statusCode).toBe(429);
  });

  it('counts wrong passwords at login and at changePassword together', async () => {
    const limited = await appWith(LIMITS_ON);
    const { email, cookie } = await signedInUser(limited);
    for (let i = 0; i < 3; i += 1) {
      expect((await restLogin(limited, email, 'not the password')).statusCode).toBe(401);
    }
    for (let i = 0; i < 2; i += 1) {
      expect(errorCodes(await changePassword(limited, cookie, 'not the password', NEW_PASSWORD))).toEqual([
        'INVALID_CREDENTIALS',
      ]);
    }
    expect((await limited.limits.counters(CLIENT, email)).loginFailures).toBe(5);
    expect(errorCodes(await changePassword(limited, cookie, PASSWORD, NEW_PASSWORD))).toEqual([
      'RATE_LIMITED',
    ]);
  });

  it('does not count a new password the policy refuses as a failure', async () => {
    const limited = await appWith(LIMITS_ON);
    const { email, cookie } = await signedInUser(limited);
    expect(errorCodes(await changePassword(limited, cookie, PASSWORD, 'password1'))).toEqual([
      'BAD_USER_INPUT',
    ]);
    expect(await limited.limits.counters(CLIENT, email)).toEqual({
      ...NO_COUNTS,
      loginPerIp: 2,
      registerPerIp: 1,
    });
  });

  it("ends the account's run of failures when the current password is right", async () => {
    const limited = await appWith(LIMITS_ON);
    const { email, cookie } = await signedInUser(limited);
    for (let i = 0; i < 4; i += 1) {
      await changePassword(limited, cookie, 'not the password', NEW_PASSWORD);
    }
    expect((await limited.limits.counters(CLIENT, email)).loginFailures).toBe(4);
    expect((await changePassword(limited, cookie, PASSWORD, NEW_PASSWORD)).data).toEqual({
      changePassword: true,
    });
    expect((await limited.limits.counters(CLIENT, email)).loginFailures).toBe(0);
  });
});

describe('rehash on login when the stored cost differs from BCRYPT_ROUNDS', () => {
  /** A registered user whose stored hash is replaced by a cost-5 hash of the same password. */
  async function userWithCost5Hash(password = PASSWORD): Promise<{ email: string; old: string }> {
    const email = await registeredUser(app, password);
    const old = bcrypt.hashSync(password.normalize('NFKC'), 5);
    await storeHash(app, email, old);
    compare.mockClear();
    hash.mockClear();
    return { email, old };
  }

  it('REST login answers 200 and stores a cost-4 hash of the same password, for one compare and one hash', async () => {
    const { email, old } = await userWithCost5Hash();
    expect(old).toMatch(/^\$2b\$05\$/);
    const response = await restLogin(app, email, PASSWORD);
    expect(response.statusCode).toBe(200);
    expect(compare).toHaveBeenCalledTimes(1);
    expect(hash).toHaveBeenCalledTimes(1);
    const stored = await storedHash(app, email);
    expect(stored).toMatch(/^\$2b\$04\$/);
    expect(bcrypt.compareSync(PASSWORD, stored)).toBe(true);
    expect(await profileStatus(app, sessionCookieOf(response))).toBe(200);
  });

  it('GraphQL login answers the user and stores a cost-4 hash, for one compare and one hash', async () => {
    const { email } = await userWithCost5Hash();
    const answer = await graphql<{ login: { email: string } }>(app, LOGIN, { email, password: PASSWORD });
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.login.email).toBe(email);
    expect(compare).toHaveBeenCalledTimes(1);
    expect(hash).toHaveBeenCalledTimes(1);
    const stored = await storedHash(app, email);
    expect(stored).toMatch(/^\$2b\$04\$/);
    expect(bcrypt.compareSync(PASSWORD, stored)).toBe(true);
    expect(await profileStatus(app, sessionCookieOf(answer.response))).toBe(200);
  });

  it('does not rehash again on the next login, through either transport', async () => {
    const { email } = await userWithCost5Hash();
    expect((await restLogin(app, email, PASSWORD)).statusCode).toBe(200);
    const rehashed = await storedHash(app, email);
    hash.mockClear();
    compare.mockClear();
    expect((await restLogin(app, email, PASSWORD)).statusCode).toBe(200);
    expect(errorCodes(await graphql(app, LOGIN, { email, password: PASSWORD }))).toEqual([]);
    expect(await storedHash(app, email)).toBe(rehashed);
    expect(hash).not.toHaveBeenCalled();
    expect(compare).toHaveBeenCalledTimes(2);
  });

  it('never rehashes on a wrong password', async () => {
    const { email, old } = await userWithCost5Hash();
    expect((await restLogin(app, email, 'not the password')).statusCode).toBe(401);
    expect(errorCodes(await graphql(app, LOGIN, { email, password: 'not the password' }))).toEqual([
      'INVALID_CREDENTIALS',
    ]);
    expect(await storedHash(app, email)).toBe(old);
    expect(hash).not.toHaveBeenCalled();
    expect(compare).toHaveBeenCalledTimes(2);
  });

  it('leaves a hash of the configured cost alone', async () => {
    const email = await registeredUser(app);
    const registered = await storedHash(app, email);
    expect(registered).toMatch(/^\$2b\$04\$/);
    hash.mockClear();
    expect((await restLogin(app, email, PASSWORD)).statusCode).toBe(200);
    expect(await storedHash(app, email)).toBe(registered);
    expect(hash).not.toHaveBeenCalled();
  });

  it('raises the cost too: with BCRYPT_ROUNDS=5 a cost-4 hash becomes cost 5', async () => {
    const stronger = await appWith({ BCRYPT_ROUNDS: '5' });
    const email = await registeredUser(stronger);
    expect(await storedHash(stronger, email)).toMatch(/^\$2b\$05\$/);
    await storeHash(stronger, email, bcrypt.hashSync(PASSWORD, 4));
    expect((await restLogin(stronger, email, PASSWORD)).statusCode).toBe(200);
    const stored = await storedHash(stronger, email);
    expect(stored).toMatch(/^\$2b\$05\$/);
    expect(bcrypt.compareSync(PASSWORD, stored)).toBe(true);
  });

  it('stores the NFKC form: a login typed with a decomposed "é" rehashes what a composed one matches', async () => {
    const { email } = await userWithCost5Hash(COMPOSED);
    expect((await restLogin(app, email, DECOMPOSED)).statusCode).toBe(200);
    const stored = await storedHash(app, email);
    expect(stored).toMatch(/^\$2b\$04\$/);
    expect(bcrypt.compareSync(COMPOSED, stored)).toBe(true);
    expect(bcrypt.compareSync(DECOMPOSED, stored)).toBe(false);
    expect((await restLogin(app, email, COMPOSED)).statusCode).toBe(200);
  });
});

describe('common passwords and the email name, on every path that sets a password', () => {
  describe.each(PATHS)('$name', ({ attempt, field }) => {
    it.each([
      ['a common password', 'password1'],
      ['a common password in another case', 'PassWord1'],
      ['a common password in full-width letters', '\uFF50\uFF41\uFF53\uFF53\uFF57\uFF4F\uFF52\uFF44\uFF11'],
      ['another common password', 'qwerty123'],
    ])('refuses %s', async (_case, password) => {
      expect(await attempt(uniqueEmail(), password)).toBe(`${field} ${TOO_COMMON}`);
    });

    it.each([
      ['equal to the local part', (name: string) => name, ''],
      ['containing the local part in upper case', (name: string) => `My${name.toUpperCase()}!`, ''],
      ['containing the whole local part with its +tag', (name: string) => `x ${name}+news x`, '+news'],
      ['containing the part before +tag', (name: string) => `x ${name} x`, '+news'],
    ])('refuses a password %s', async (_case, password, tag) => {
      const { email, name } = namedEmail(tag);
      expect(await attempt(email, password(name))).toBe(`${field} ${HAS_NAME}`);
    });

    it('accepts a password containing a local part shorter than 3 characters, which then logs in', async () => {
      const email = `jo@${uniqueEmail().replace('@', '.')}`;
      expect(await attempt(email, 'jojojojo-42x')).toBe('accepted');
      expect((await restLogin(app, email, 'jojojojo-42x')).statusCode).toBe(200);
    });

    it('refuses a password whose NFKC form is over 72 bytes although its raw form is 9', async () => {
      const password = LIGATURE.repeat(3);
      expect([password.length, Buffer.byteLength(password)]).toEqual([3, 9]);
      expect(Buffer.byteLength(password.normalize('NFKC'))).toBe(99);
      expect(await attempt(uniqueEmail(), password)).toBe(`${field} ${TOO_LONG}`);
    });
  });

  it('creates no account when registration is refused', async () => {
    const email = uniqueEmail();
    expect((await sendForm(app, 'POST', '/users', { email, password: 'password1' })).statusCode).toBe(400);
    expect(errorCodes(await graphql(app, REGISTER, { email, password: 'password1' }))).toEqual([
      'BAD_USER_INPUT',
    ]);
    expect((await sendForm(app, 'POST', '/users', { email, password: PASSWORD })).statusCode).toBe(200);
  });

  it('keeps the reset token usable after a refused new password, through either transport', async () => {
    const email = await registeredUser(app);
    const token = await resetTokenFor(app, email);
    const refusedRest = { email, reset_token: token, new_password: 'password1' };
    expect(restOutcome(await sendForm(app, 'PUT', '/reset_password', refusedRest))).toBe(
      `new password ${TOO_COMMON}`,
    );
    const refusedGraphql = { email, resetToken: token, newPassword: 'qwerty123' };
    expect(graphqlOutcome(await graphql(app, RESET, refusedGraphql))).toBe(`new password ${TOO_COMMON}`);
    const accepted = { email, reset_token: token, new_password: NEW_PASSWORD };
    expect((await sendForm(app, 'PUT', '/reset_password', accepted)).json()).toEqual({
      email,
      message: 'Password updated',
    });
    expect((await restLogin(app, email, NEW_PASSWORD)).statusCode).toBe(200);
  });

  it('checks the email the reset names, whatever its case and padding', async () => {
    const { email, name } = namedEmail();
    await register(email);
    const requested = await graphql<{ requestPasswordReset: { resetToken: string } }>(app, REQUEST_RESET, {
      email,
    });
    const resetToken = requested.data?.requestPasswordReset.resetToken ?? '';
    const variables = { email: `  ${email.toUpperCase()} `, resetToken, newPassword: `pw-${name}` };
    expect(graphqlOutcome(await graphql(app, RESET, variables))).toBe(`new password ${HAS_NAME}`);
  });

  it('still lets an existing account with a common password, or one containing its name, log in', async () => {
    for (const legacy of ['password1', (name: string) => `${name}-2019`]) {
      const { email, name } = namedEmail();
      await register(email);
      const password = typeof legacy === 'string' ? legacy : legacy(name);
      await storeHash(app, email, bcrypt.hashSync(password, 4));
      expect((await restLogin(app, email, password)).statusCode).toBe(200);
      expect(errorCodes(await graphql(app, LOGIN, { email, password }))).toEqual([]);
    }
  });
});

describe('NFKC passwords end to end', () => {
  it.each([
    ['a composed "é"', 'a decomposed one', COMPOSED, DECOMPOSED],
    ['a decomposed "é"', 'a composed one', DECOMPOSED, COMPOSED],
    ['full-width digits', 'ASCII digits', FULL_WIDTH, ASCII_DIGITS],
    ['ASCII digits', 'full-width digits', ASCII_DIGITS, FULL_WIDTH],
  ])('registered with %s, logs in with %s, through REST and GraphQL', async (_r, _l, registered, typed) => {
    expect(registered).not.toBe(typed);
    expect(registered.normalize('NFKC')).toBe(typed.normalize('NFKC'));
    const email = await registeredUser(app, registered);
    expect((await restLogin(app, email, typed)).statusCode).toBe(200);
    expect(errorCodes(await graphql(app, LOGIN, { email, password: typed }))).toEqual([]);
    expect(bcrypt.compareSync(typed.normalize('NFKC'), await storedHash(app, email))).toBe(true);
  });

  it('registers through GraphQL with a decomposed "é" and logs in through REST with the composed one', async () => {
    const email = uniqueEmail();
    expect(errorCodes(await graphql(app, REGISTER, { email, password: DECOMPOSED }))).toEqual([]);
    expect((await restLogin(app, email, COMPOSED)).statusCode).toBe(200);
  });

  it('never trims or case-folds: only the exact password (up to NFKC) logs in', async () => {
    const password = '  Padded Phrase 42  ';
    const email = await registeredUser(app, password);
    for (const near of [
      'Padded Phrase 42',
      '  padded phrase 42  ',
      '  PADDED PHRASE 42  ',
      ' Padded Phrase 42 ',
    ]) {
      expect((await restLogin(app, email, near)).statusCode).toBe(401);
    }
    expect((await restLogin(app, email, password)).statusCode).toBe(200);
  });

  it('accepts two U+FDFA (6 bytes raw, 66 in NFKC), which log in as typed or as their expansion', async () => {
    const password = LIGATURE.repeat(2);
    expect(Buffer.byteLength(password)).toBe(6);
    expect(Buffer.byteLength(password.normalize('NFKC'))).toBe(66);
    const email = await registeredUser(app, password);
    expect((await restLogin(app, email, password)).statusCode).toBe(200);
    expect((await restLogin(app, email, password.normalize('NFKC'))).statusCode).toBe(200);
  });

  it('spends no bcrypt compare on a login whose NFKC form is over 72 bytes', async () => {
    const email = await registeredUser(app);
    compare.mockClear();
    expect((await restLogin(app, email, LIGATURE.repeat(3))).statusCode).toBe(401);
    expect(errorCodes(await graphql(app, LOGIN, { email, password: LIGATURE.repeat(3) }))).toEqual([
      'INVALID_CREDENTIALS',
    ]);
    expect(compare).not.toHaveBeenCalled();
  });

  it('changePassword to a decomposed "é" lets the composed one log in', async () => {
    const { email, cookie } = await signedInUser(app);
    expect((await changePassword(app, cookie, PASSWORD, DECOMPOSED)).data).toEqual({ changePassword: true });
    expect((await restLogin(app, email, COMPOSED)).statusCode).toBe(200);
  });

  it('changePassword accepts the current password in another normal form', async () => {
    const { email, cookie } = await signedInUser(app, COMPOSED);
    expect((await changePassword(app, cookie, DECOMPOSED, NEW_PASSWORD)).data).toEqual({
      changePassword: true,
    });
    expect((await restLogin(app, email, NEW_PASSWORD)).statusCode).toBe(200);
  });

  it('a reset to full-width digits lets ASCII digits log in', async () => {
    const email = await registeredUser(app);
    const fields = { email, reset_token: await resetTokenFor(app, email), new_password: FULL_WIDTH };
    expect((await sendForm(app, 'PUT', '/reset_password', fields)).statusCode).toBe(200);
    expect((await restLogin(app, email, ASCII_DIGITS)).statusCode).toBe(200);
  });

  // An account whose hash was made before passwords were normalised, from a password not in NFKC (a decomposed
  // "é", as macOS keyboards may send it), still logs in with the very password it registered with; that login
  // replaces the hash with one of the NFKC form, so the composed form works from then on.
  it('still lets in an account hashed before NFKC, with its password typed as before, and rehashes it', async () => {
    const email = await registeredUser(app);
    const legacy = bcrypt.hashSync(DECOMPOSED, 4);
    await storeHash(app, email, legacy);
    expect((await restLogin(app, email, COMPOSED)).statusCode).toBe(401);
    expect((await restLogin(app, email, DECOMPOSED)).statusCode).toBe(200);
    const rehashed = await storedHash(app, email);
    expect(rehashed).not.toBe(legacy);
    expect(bcrypt.compareSync(COMPOSED, rehashed)).toBe(true);
    expect((await restLogin(app, email, COMPOSED)).statusCode).toBe(200);
  });
});
