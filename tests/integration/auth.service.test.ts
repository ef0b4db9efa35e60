// The exercise's Auth class as the accounts and sessions modules, on the real app and SQLite, the clock moved for expiry.
import { createTestApp, type TestApp } from '../helpers/test-app';
import { NEW_PASSWORD, PASSWORD, uniqueEmail } from '../helpers/factories';
import { AuthError, valueOrThrow } from '../../src/errors';
import { User } from '../../src/entities/user.entity';
import type { PublicUser } from '../../src/shared';
import { SessionRepository } from '../../src/sessions';
import { UserRepository } from '../../src/accounts';
import { hashToken } from '../../src/shared';
import { withEpochDates } from '../helpers/sql-values';

const MS_PER_SECOND = 1000;
const SECONDS_PER_MINUTE = 60;
const SECONDS_PER_HOUR = 60 * SECONDS_PER_MINUTE;
const SECONDS_PER_DAY = 24 * SECONDS_PER_HOUR;
// The defaults of the configuration, which createTestApp() leaves alone.
const IDLE_TTL_SECONDS = 7 * SECONDS_PER_DAY;
const ABSOLUTE_TTL_SECONDS = 30 * SECONDS_PER_DAY;
const TOUCH_INTERVAL_SECONDS = SECONDS_PER_HOUR;
const RESET_TOKEN_TTL_SECONDS = SECONDS_PER_HOUR;

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const SHA256_HEX_PATTERN = /^[0-9a-f]{64}$/;
// BCRYPT_ROUNDS=4 in tests; a bcrypt hash is 60 characters: $2b$, the cost, $, 22 salt and 31 hash characters.
const TEST_BCRYPT_HASH_PATTERN = /^\$2b\$04\$[./A-Za-z0-9]{53}$/;
/** A third valid password, for races where each contender sets a different one. */
const RIVAL_PASSWORD = 'rival password 9 lives';

type UserRow = {
  id: number;
  email: string;
  hashed_password: string;
  created_at: number;
};
type ResetTokenRow = {
  token_hash: string;
  created_at: number;
  expires_at: number;
};
type SessionRow = {
  id: number;
  user_id: number;
  token_hash: string;
  created_at: number;
  expires_at: number;
  last_seen_at: number;
};

const SESSION_DATES = ['created_at', 'expires_at', 'last_seen_at'] as const;

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});
afterAll(async () => {
  await app.close();
});

/** Registers a user with a fresh unique email. */
function registered(target: TestApp = app, password = PASSWORD): Promise<PublicUser> {
  return target.accounts.registerUser(uniqueEmail(), password);
}

/** Starts a session for a registered email and returns its token. */
async function tokenFor(email: string, target: TestApp = app): Promise<string> {
  const token = await target.accounts.createSession(email);
  if (token === null) throw new Error(`no session for ${email}`);
  return token;
}

/** A registered user with one session. */
async function signedIn(target: TestApp = app): Promise<{ user: PublicUser; token: string }> {
  const user = await registered(target);
  return { user, token: await tokenFor(user.email, target) };
}

/** The users row for an email, read with plain SQL past the ORM. */
async function userRow(email: string): Promise<UserRow | undefined> {
  const rows = await app.orm.em
    .getConnection()
    .execute<UserRow[]>('select id, email, hashed_password, created_at from users where email = ?', [email]);
  return rows[0] === undefined ? undefined : withEpochDates(rows[0], ['created_at']);
}

/** The reset-token rows of the user with this email, oldest first, read with plain SQL past the ORM. */
async function resetTokenRows(email: string): Promise<ResetTokenRow[]> {
  const rows = await app.orm.em
    .getConnection()
    .execute<ResetTokenRow[]>(
      'select t.token_hash, t.created_at, t.expires_at from password_reset_tokens t ' +
        'join users u on u.id = t.user_id where u.email = ? order by t.id',
      [email],
    );
  return rows.map((row) => withEpochDates(row, ['created_at', 'expires_at']));
}

/** The sessions row of a token (found by its hash, as the service does), read with plain SQL. */
async function sessionRow(token: string, target: TestApp = app): Promise<SessionRow | undefined> {
  const rows = await target.orm.em
    .getConnection()
    .execute<SessionRow[]>('select * from sessions where token_hash = ?', [hashToken(token)]);
  return rows[0] === undefined ? undefined : withEpochDates(rows[0], SESSION_DATES);
}

/** Every sessions row of a user, read with plain SQL. */
async function sessionRowsOf(userId: number): Promise<SessionRow[]> {
  const rows = await app.orm.em
    .getConnection()
    .execute<SessionRow[]>('select * from sessions where user_id = ?', [userId]);
  return rows.map((row) => withEpochDates(row, SESSION_DATES));
}

/** The epoch milliseconds `seconds` after `epochMs`. */
function plusSeconds(epochMs: number, seconds: number): number {
  return epochMs + seconds * MS_PER_SECOND;
}

/** The reason of every rejected promise, and the values of the fulfilled ones. */
function partition<T>(results: PromiseSettledResult<T>[]): { fulfilled: T[]; reasons: unknown[] } {
  const fulfilled: T[] = [];
  const reasons: unknown[] = [];
  for (const result of results) {
    if (result.status === 'fulfilled') fulfilled.push(result.value);
    else reasons.push(result.reason as unknown);
  }
  return { fulfilled, reasons };
}

describe('registerUser', () => {
  it('stores the email trimmed and lower-cased and returns only id, email and createdAt', async () => {
    const email = uniqueEmail();
    const user = await app.accounts.registerUser(`  ${email.toUpperCase()} `, PASSWORD);
    expect(Object.keys(user).sort()).toEqual(['createdAt', 'email', 'id']);
    const row = await userRow(email);
    expect(row).toBeDefined();
    expect(user).toEqual({ id: row?.id, email, createdAt: new Date(row?.created_at ?? Number.NaN) });
  });

  it.each([
    ['the same email', (email: string) => email],
    ['the same email in capitals with spaces around it', (email: string) => ` ${email.toUpperCase()}  `],
  ])('throws EMAIL_TAKEN for %s', async (_case, again) => {
    const { email } = await registered();
    const promise = app.accounts.registerUser(again(email), NEW_PASSWORD);
    await expect(promise).rejects.toBeInstanceOf(AuthError);
    await expect(promise).rejects.toMatchObject({ code: 'EMAIL_TAKEN' });
    expect(await app.accounts.validLogin(email, PASSWORD)).toBe(true);
    expect(await app.accounts.validLogin(email, NEW_PASSWORD)).toBe(false);
  });

  it('lets exactly one of five concurrent registrations of one email in; the others get EMAIL_TAKEN', async () => {
    const email = uniqueEmail('race');
    const attempts = Array.from({ length: 5 }, () => app.accounts.registerUser(email, PASSWORD));
    const { fulfilled, reasons } = partition(await Promise.allSettled(attempts));

    expect(fulfilled).toHaveLength(1);
    expect(fulfilled[0].email).toBe(email);
    expect(reasons).toHaveLength(4);
    for (const reason of reasons) {
      expect(reason).toBeInstanceOf(AuthError);
      expect(reason).toMatchObject({ code: 'EMAIL_TAKEN' });
    }
    const rows = await app.orm.em
      .getConnection()
      .execute<{ id: number }[]>('select id from users where email = ?', [email]);
    expect(rows).toEqual([{ id: fulfilled[0].id }]);
  });
});

describe('validLogin', () => {
  it('is true for the right password, with the email as registered or in capitals with spaces', async () => {
    const { email } = await registered();
    expect(await app.accounts.validLogin(email, PASSWORD)).toBe(true);
    expect(await app.accounts.validLogin(` ${email.toUpperCase()} `, PASSWORD)).toBe(true);
  });

  const longPassword = 'y'.repeat(72);
  it.each([
    ['a wrong password', PASSWORD, (email: string) => email, 'wrong password'],
    ['an unknown email', PASSWORD, () => uniqueEmail('ghost'), PASSWORD],
    ['the right password with a trailing space', PASSWORD, (email: string) => email, `${PASSWORD} `],
    [
      'a password past 72 bytes whose first 72 bytes are the password',
      longPassword,
      (email: string) => email,
      `${longPassword}extra`,
    ],
    ['an empty password', PASSWORD, (email: string) => email, ''],
  ])('is false for %s', async (_case, registeredPassword, loginEmail, loginPassword) => {
    const { email } = await registered(app, registeredPassword);
    expect(await app.accounts.validLogin(email, registeredPassword)).toBe(true);
    expect(await app.accounts.validLogin(loginEmail(email), loginPassword)).toBe(false);
  });
});

describe('createSession', () => {
  it('returns a fresh 43-character base64url token for a registered email', async () => {
    const { email } = await registered();
    const first = await app.accounts.createSession(email);
    const second = await app.accounts.createSession(` ${email.toUpperCase()}`);
    expect(first).toMatch(TOKEN_PATTERN);
    expect(second).toMatch(TOKEN_PATTERN);
    expect(second).not.toBe(first);
  });

  it('returns null for an unknown email', async () => {
    expect(await app.accounts.createSession(uniqueEmail('ghost'))).toBeNull();
  });
});

describe('getUserFromSessionId', () => {
  it("returns the session's user: id, email and createdAt", async () => {
    const { user, token } = await signedIn();
    expect(await app.sessions.getUserFromSessionId(token)).toEqual(user);
  });

  it.each<[string, unknown]>([
    ['an unknown token', 'A'.repeat(43)],
    ['a malformed token', 'not-a-token'],
    ['a token one character short', 'A'.repeat(42)],
    ['an empty string', ''],
    ['undefined', undefined],
    ['null', null],
    ['a number', 42],
    ['an object', { token: 'A'.repeat(43) }],
    ['an array', ['A'.repeat(43)]],
  ])('returns null for %s', async (_case, token) => {
    expect(await app.sessions.getUserFromSessionId(token)).toBeNull();
  });
});

describe('destroySession', () => {
  it('ends the session: true, then the token gives null and a second destroy gives false', async () => {
    const { token } = await signedIn();
    expect(await app.sessions.destroySession(token)).toBe(true);
    expect(await app.sessions.getUserFromSessionId(token)).toBeNull();
    expect(await sessionRow(token)).toBeUndefined();
    expect(await app.sessions.destroySession(token)).toBe(false);
  });

  it("ends only that session: the user's other session keeps working", async () => {
    const { user, token } = await signedIn();
    const other = await tokenFor(user.email);
    await app.sessions.destroySession(token);
    expect(await app.sessions.getUserFromSessionId(other)).toEqual(user);
  });

  it('returns true to exactly one of two concurrent destroys of one session, false to the other', async () => {
    const { token } = await signedIn();
    const results = await Promise.all([
      app.sessions.destroySession(token),
      app.sessions.destroySession(token),
    ]);
    expect([...results].sort()).toEqual([false, true]);
    expect(await sessionRow(token)).toBeUndefined();
  });

  it.each<[string, unknown]>([
    ['an unknown token', 'B'.repeat(43)],
    ['a malformed token', '%%%'],
    ['undefined', undefined],
  ])('returns false when there is no session: %s', async (_case, token) => {
    expect(await app.sessions.destroySession(token)).toBe(false);
  });
});

describe('what is stored', () => {
  it('stores the SHA-256 hex of the session token, never the token itself', async () => {
    const { user, token } = await signedIn();
    const rows = await sessionRowsOf(user.id);
    expect(rows).toHaveLength(1);
    expect(rows[0].token_hash).toBe(hashToken(token));
    expect(rows[0].token_hash).toMatch(SHA256_HEX_PATTERN);
    expect(Object.values(rows[0])).not.toContain(token);
  });

  it('stores a bcrypt hash of the password at the configured cost, never the password', async () => {
    const { email } = await registered();
    const row = await userRow(email);
    expect(row?.hashed_password).toMatch(TEST_BCRYPT_HASH_PATTERN);
    expect(row?.hashed_password).not.toBe(PASSWORD);
    expect(row?.hashed_password).not.toContain(PASSWORD);
  });

  it('stores the SHA-256 hex of the reset token and an expiry one hour ahead, never the token', async () => {
    const { email } = await registered();
    const { resetToken } = await app.accounts.getResetPasswordToken(email);
    const now = app.clock.now().getTime();
    expect(resetToken).toMatch(TOKEN_PATTERN);
    expect(await resetTokenRows(email)).toEqual([
      {
        token_hash: hashToken(resetToken),
        created_at: now,
        expires_at: plusSeconds(now, RESET_TOKEN_TTL_SECONDS),
      },
    ]);
  });
});

describe('session lifetime', () => {
  it('keeps a session working when it is used within 7 days', async () => {
    const { user, token } = await signedIn();
    app.clock.advanceSeconds(IDLE_TTL_SECONDS - 1);
    expect(await app.sessions.getUserFromSessionId(token)).toEqual(user);
  });

  it('returns null once the session has been idle for 7 days', async () => {
    const { token } = await signedIn();
    app.clock.advanceSeconds(IDLE_TTL_SECONDS);
    expect(await app.sessions.getUserFromSessionId(token)).toBeNull();
  });

  it('slides with use every 6 days until day 24, and is null at day 30 after login though used at day 29', async () => {
    const { user, token } = await signedIn();
    for (let day = 6; day <= 24; day += 6) {
      app.clock.advanceSeconds(6 * SECONDS_PER_DAY);
      expect(await app.sessions.getUserFromSessionId(token)).toEqual(user);
    }
    app.clock.advanceSeconds(5 * SECONDS_PER_DAY);
    expect(await app.sessions.getUserFromSessionId(token)).toEqual(user);
    app.clock.advanceSeconds(SECONDS_PER_DAY);
    expect(await app.sessions.getUserFromSessionId(token)).toBeNull();
  });

  it('writes last_seen_at and expires_at at most once an hour', async () => {
    const { token } = await signedIn();
    const loginMs = app.clock.now().getTime();
    const atLogin = await sessionRow(token);
    expect(atLogin).toMatchObject({
      created_at: loginMs,
      last_seen_at: loginMs,
      expires_at: plusSeconds(loginMs, IDLE_TTL_SECONDS),
    });

    app.clock.advanceSeconds(10 * SECONDS_PER_MINUTE);
    const early = await app.sessions.validateSession(token);
    expect(early).toMatchObject({
      refreshed: false,
      maxAgeSeconds: IDLE_TTL_SECONDS - 10 * SECONDS_PER_MINUTE,
    });
    app.clock.advanceSeconds(TOUCH_INTERVAL_SECONDS - 10 * SECONDS_PER_MINUTE - 1);
    expect(await app.sessions.validateSession(token)).toMatchObject({ refreshed: false });
    expect(await sessionRow(token)).toEqual(atLogin);

    app.clock.advanceSeconds(1);
    const touchedMs = app.clock.now().getTime();
    const touched = await app.sessions.validateSession(token);
    expect(touched).toMatchObject({
      refreshed: true,
      expiresAt: new Date(plusSeconds(touchedMs, IDLE_TTL_SECONDS)),
      maxAgeSeconds: IDLE_TTL_SECONDS,
    });
    expect(await sessionRow(token)).toMatchObject({
      created_at: loginMs,
      last_seen_at: touchedMs,
      expires_at: plusSeconds(touchedMs, IDLE_TTL_SECONDS),
    });

    app.clock.advanceSeconds(1);
    expect(await app.sessions.validateSession(token)).toMatchObject({
      refreshed: false,
      maxAgeSeconds: IDLE_TTL_SECONDS - 1,
    });
    expect(await sessionRow(token)).toMatchObject({ last_seen_at: touchedMs });
  });

  it('never moves the expiry past 30 days after login, however often the session is touched', async () => {
    const { token } = await signedIn();
    const absoluteEndMs = plusSeconds(app.clock.now().getTime(), ABSOLUTE_TTL_SECONDS);
    for (const stepDays of [6, 6, 6, 6, 5]) {
      app.clock.advanceSeconds(stepDays * SECONDS_PER_DAY);
      const session = await app.sessions.validateSession(token);
      const row = await sessionRow(token);
      expect(session?.refreshed).toBe(true);
      expect(session?.expiresAt.getTime()).toBeLessThanOrEqual(absoluteEndMs);
      expect(row?.expires_at).toBe(session?.expiresAt.getTime());
    }
    // Day 29: idle expiry would be day 36; the absolute cap holds it at day 30, one day away.
    const atDay29 = await app.sessions.validateSession(token);
    expect(atDay29?.expiresAt).toEqual(new Date(absoluteEndMs));
    expect(atDay29?.maxAgeSeconds).toBe(SECONDS_PER_DAY);
    expect((await sessionRow(token))?.expires_at).toBe(absoluteEndMs);
  });

  it.each([
    ['idle for 7 days', [IDLE_TTL_SECONDS]],
    ['30 days after login though used every 6 days', [6, 6, 6, 6, 6].map((days) => days * SECONDS_PER_DAY)],
  ])('deletes the row of a session expired (%s) on the next lookup', async (_case, steps) => {
    const { token } = await signedIn();
    for (const seconds of steps.slice(0, -1)) {
      app.clock.advanceSeconds(seconds);
      expect(await app.sessions.getUserFromSessionId(token)).not.toBeNull();
    }
    app.clock.advanceSeconds(steps[steps.length - 1]);
    expect(await sessionRow(token)).toBeDefined();
    expect(await app.sessions.getUserFromSessionId(token)).toBeNull();
    expect(await sessionRow(token)).toBeUndefined();
  });

  describe('with lifetimes from the configuration (idle 120 s, absolute 600 s, touch every use)', () => {
    const SHORT_LIFETIMES = {
      SESSION_IDLE_TTL_SECONDS: '120',
      SESSION_ABSOLUTE_TTL_SECONDS: '600',
      SESSION_TOUCH_INTERVAL_SECONDS: '0',
    };

    it('slides the expiry to 120 s on every use and ends the session after 120 s idle', async () => {
      const shortApp = await createTestApp(SHORT_LIFETIMES);
      try {
        const user = await registered(shortApp);
        const login = valueOrThrow(await shortApp.accounts.login(user.email, PASSWORD));
        expect(login.maxAgeSeconds).toBe(120);

        shortApp.clock.advanceSeconds(60);
        expect(await shortApp.sessions.validateSession(login.token)).toMatchObject({
          user,
          refreshed: true,
          maxAgeSeconds: 120,
        });
        shortApp.clock.advanceSeconds(119);
        expect(await shortApp.sessions.validateSession(login.token)).toMatchObject({
          refreshed: true,
          maxAgeSeconds: 120,
        });
        shortApp.clock.advanceSeconds(120);
        expect(await shortApp.sessions.getUserFromSessionId(login.token)).toBeNull();
        expect(await sessionRow(login.token, shortApp)).toBeUndefined();
      } finally {
        await shortApp.close();
      }
    });

    it('ends the session 600 s after login however often it is used', async () => {
      const shortApp = await createTestApp(SHORT_LIFETIMES);
      try {
        const { user, token } = await signedIn(shortApp);
        for (let elapsed = 100; elapsed <= 500; elapsed += 100) {
          shortApp.clock.advanceSeconds(100);
          expect(await shortApp.sessions.getUserFromSessionId(token)).toEqual(user);
        }
        shortApp.clock.advanceSeconds(50);
        expect(await shortApp.sessions.validateSession(token)).toMatchObject({
          refreshed: true,
          maxAgeSeconds: 50,
        });
        shortApp.clock.advanceSeconds(50);
        expect(await shortApp.sessions.getUserFromSessionId(token)).toBeNull();
      } finally {
        await shortApp.close();
      }
    });
  });
});

describe('getResetPasswordToken', () => {
  it('throws EMAIL_NOT_REGISTERED for an unknown email', async () => {
    const promise = app.accounts.getResetPasswordToken(uniqueEmail('ghost'));
    await expect(promise).rejects.toBeInstanceOf(AuthError);
    await expect(promise).rejects.toMatchObject({ code: 'EMAIL_NOT_REGISTERED' });
  });

  it('returns the normalised email with the token', async () => {
    const { email } = await registered();
    const grant = await app.accounts.getResetPasswordToken(` ${email.toUpperCase()}`);
    expect(grant.email).toBe(email);
    expect(grant.resetToken).toMatch(TOKEN_PATTERN);
  });

  it('keeps the earlier token with a second request: either works, and the first use ends both', async () => {
    const { email } = await registered();
    const older = (await app.accounts.getResetPasswordToken(email)).resetToken;
    const newer = (await app.accounts.getResetPasswordToken(email)).resetToken;
    expect(newer).not.toBe(older);
    expect((await resetTokenRows(email)).map((row) => row.token_hash)).toEqual([
      hashToken(older),
      hashToken(newer),
    ]);
    await expect(app.accounts.updatePassword(email, newer, NEW_PASSWORD)).resolves.toMatchObject({ email });
    await expect(app.accounts.updatePassword(email, older, PASSWORD)).rejects.toMatchObject({
      code: 'INVALID_RESET_TOKEN',
    });
  });
});

describe('updatePassword', () => {
  it('sets the new password and deletes the reset token', async () => {
    const user = await registered();
    const { resetToken } = await app.accounts.getResetPasswordToken(user.email);
    expect(await app.accounts.updatePassword(user.email, resetToken, NEW_PASSWORD)).toEqual(user);
    expect(await app.accounts.validLogin(user.email, PASSWORD)).toBe(false);
    expect(await app.accounts.validLogin(user.email, NEW_PASSWORD)).toBe(true);
    expect(await resetTokenRows(user.email)).toEqual([]);
  });

  it("ends every session of that user and no other user's", async () => {
    const { user, token: phone } = await signedIn();
    const laptop = await tokenFor(user.email);
    const bystander = await signedIn();
    const { resetToken } = await app.accounts.getResetPasswordToken(user.email);

    await app.accounts.updatePassword(user.email, resetToken, NEW_PASSWORD);

    expect(await app.sessions.getUserFromSessionId(phone)).toBeNull();
    expect(await app.sessions.getUserFromSessionId(laptop)).toBeNull();
    expect(await sessionRowsOf(user.id)).toEqual([]);
    expect(await app.sessions.getUserFromSessionId(bystander.token)).toEqual(bystander.user);
  });

  it('refuses a token the second time: INVALID_RESET_TOKEN, and the first new password stays', async () => {
    const { email } = await registered();
    const { resetToken } = await app.accounts.getResetPasswordToken(email);
    await app.accounts.updatePassword(email, resetToken, NEW_PASSWORD);
    const promise = app.accounts.updatePassword(email, resetToken, RIVAL_PASSWORD);
    await expect(promise).rejects.toBeInstanceOf(AuthError);
    await expect(promise).rejects.toMatchObject({ code: 'INVALID_RESET_TOKEN' });
    expect(await app.accounts.validLogin(email, NEW_PASSWORD)).toBe(true);
  });

  it('accepts the token one second before its hour is up', async () => {
    const { email } = await registered();
    const { resetToken } = await app.accounts.getResetPasswordToken(email);
    app.clock.advanceSeconds(RESET_TOKEN_TTL_SECONDS - 1);
    await expect(app.accounts.updatePassword(email, resetToken, NEW_PASSWORD)).resolves.toMatchObject({
      email,
    });
  });

  it('throws INVALID_RESET_TOKEN once the token is an hour old, and the password stays', async () => {
    const { email } = await registered();
    const { resetToken } = await app.accounts.getResetPasswordToken(email);
    app.clock.advanceSeconds(RESET_TOKEN_TTL_SECONDS);
    const promise = app.accounts.updatePassword(email, resetToken, NEW_PASSWORD);
    await expect(promise).rejects.toBeInstanceOf(AuthError);
    await expect(promise).rejects.toMatchObject({ code: 'INVALID_RESET_TOKEN' });
    expect(await app.accounts.validLogin(email, PASSWORD)).toBe(true);
  });

  it("throws INVALID_RESET_TOKEN for another user's email, and the token still works for its owner", async () => {
    const owner = await registered();
    const other = await registered();
    const { resetToken } = await app.accounts.getResetPasswordToken(owner.email);
    const promise = app.accounts.updatePassword(other.email, resetToken, NEW_PASSWORD);
    await expect(promise).rejects.toBeInstanceOf(AuthError);
    await expect(promise).rejects.toMatchObject({ code: 'INVALID_RESET_TOKEN' });
    expect(await app.accounts.validLogin(other.email, PASSWORD)).toBe(true);
    await expect(app.accounts.updatePassword(owner.email, resetToken, NEW_PASSWORD)).resolves.toEqual(owner);
  });

  it.each<[string, unknown]>([
    ['an unknown token', 'C'.repeat(43)],
    ['a malformed token', 'short'],
    ['a token that is not a string', 12345],
  ])('throws INVALID_RESET_TOKEN for %s', async (_case, resetToken) => {
    const { email } = await registered();
    await app.accounts.getResetPasswordToken(email);
    await expect(app.accounts.updatePassword(email, resetToken, NEW_PASSWORD)).rejects.toMatchObject({
      code: 'INVALID_RESET_TOKEN',
    });
  });

  it("lets exactly one of two concurrent uses of one token succeed, and the password is the winner's", async () => {
    const { email } = await registered();
    const { resetToken } = await app.accounts.getResetPasswordToken(email);
    const contenders = [NEW_PASSWORD, RIVAL_PASSWORD];
    const results = await Promise.allSettled(
      contenders.map((password) => app.accounts.updatePassword(email, resetToken, password)),
    );

    const { fulfilled, reasons } = partition(results);
    expect(fulfilled).toHaveLength(1);
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toBeInstanceOf(AuthError);
    expect(reasons[0]).toMatchObject({ code: 'INVALID_RESET_TOKEN' });

    const winner = results[0].status === 'fulfilled' ? contenders[0] : contenders[1];
    const loser = winner === contenders[0] ? contenders[1] : contenders[0];
    expect(await app.accounts.validLogin(email, winner)).toBe(true);
    expect(await app.accounts.validLogin(email, loser)).toBe(false);
    expect(await app.accounts.validLogin(email, PASSWORD)).toBe(false);
  });
});

describe('SessionStore (raw SQL reads) and the ORM (writes) agree', () => {
  it("returns null once SessionRepository has deleted the user's sessions", async () => {
    const { user, token } = await signedIn();
    expect(await app.sessions.getUserFromSessionId(token)).toEqual(user);
    expect(await new SessionRepository(app.orm.em.fork()).deleteAllForUser(user.id)).toBe(1);
    expect(await app.sessions.getUserFromSessionId(token)).toBeNull();
  });

  it('returns null for the session of a user deleted through the ORM', async () => {
    const { user, token } = await signedIn();
    expect(await app.sessions.getUserFromSessionId(token)).toEqual(user);
    expect(await app.orm.em.fork().nativeDelete(User, { id: user.id })).toBe(1);
    expect(await app.sessions.getUserFromSessionId(token)).toBeNull();
  });

  it('returns the email UserRepository.updateUser just changed', async () => {
    const { user, token } = await signedIn();
    expect(await app.sessions.getUserFromSessionId(token)).toEqual(user);
    const newEmail = uniqueEmail('renamed');
    await new UserRepository(app.orm.em.fork()).updateUser(user.id, { email: newEmail });
    expect(await app.sessions.getUserFromSessionId(token)).toEqual({ ...user, email: newEmail });
  });
});
