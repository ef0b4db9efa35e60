// Session management through the real app: listing, revoking and ending sessions, and the clean-up of expired ones.
import { createHash } from 'node:crypto';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { errorCodes, LOGIN, type GraphQLAnswer, type GraphQLErrorBody } from '../helpers/graphql';
import {
  CLEARED_SESSION_COOKIE,
  sendEmpty,
  sendForm,
  sessionCookieOf,
  setCookies,
  tokenOf,
} from '../helpers/http';
import { NEW_PASSWORD, PASSWORD, registeredUser } from '../helpers/factories';

const SECONDS_PER_HOUR = 60 * 60;
const SECONDS_PER_DAY = 24 * SECONDS_PER_HOUR;
/** SESSION_IDLE_TTL_SECONDS's default: a fresh session expires this long after login. */
const IDLE_TTL_SECONDS = 7 * SECONDS_PER_DAY;
/** RESET_TOKEN_TTL_SECONDS's default. */
const RESET_TOKEN_TTL_SECONDS = SECONDS_PER_HOUR;
/** What a public session id looks like: 16 random bytes in base64url. */
const PUBLIC_ID = /^[A-Za-z0-9_-]{22}$/;
/** GET /profile's answer without a valid session. */
const NO_SESSION_BODY = '{"message":"no valid session"}';

/** One entry of the `sessions` query, every field asked for. */
interface SessionData {
  id: string;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
  userAgent: string | null;
  ip: string | null;
  current: boolean;
}

const SESSIONS = `query Sessions {
  sessions { id createdAt lastSeenAt expiresAt userAgent ip current }
}`;
const REVOKE_SESSION = `mutation Revoke($id: ID!) { revokeSession(id: $id) }`;
const LOGOUT_EVERYWHERE = `mutation LogoutEverywhere { logoutEverywhere }`;

/** Where a request comes from: the socket's address, the User-Agent header and the session cookie, each optional. */
interface From {
  readonly ip?: string;
  readonly userAgent?: string;
  readonly cookie?: string;
}

const LAPTOP: From = { ip: '198.51.100.10', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0' };
const PHONE: From = { ip: '203.0.113.20', userAgent: 'AuthApp/2.1 (iPhone; iOS 18.1)' };
const TABLET: From = { ip: '192.0.2.30', userAgent: 'Tablet/0.9' };

/** The headers of a request from `from`, on top of `base`; light-my-request adds its own User-Agent if none. */
function headersFrom(from: From, base: Record<string, string>): Record<string, string> {
  return {
    ...base,
    ...(from.userAgent === undefined ? {} : { 'user-agent': from.userAgent }),
    ...(from.cookie === undefined ? {} : { cookie: from.cookie }),
  };
}

/** One GraphQL operation through app.inject, from the given client (tests/helpers/graphql.ts cannot choose one). */
async function gql<T = Record<string, unknown>>(
  app: TestApp,
  query: string,
  variables: Record<string, unknown> = {},
  from: From = {},
): Promise<GraphQLAnswer<T>> {
  const response = await app.server.inject({
    method: 'POST',
    url: '/graphql',
    payload: JSON.stringify({ query, variables }),
    remoteAddress: from.ip,
    headers: headersFrom(from, { 'content-type': 'application/json' }),
  });
  const body = response.json<{ data?: T | null; errors?: GraphQLErrorBody[] }>();
  return { response, data: body.data, errors: body.errors };
}

/** Logs in through POST /sessions from the given client; returns the `session_id=...` cookie. */
async function restLogin(app: TestApp, email: string, from: From = {}): Promise<string> {
  const response = await app.server.inject({
    method: 'POST',
    url: '/sessions',
    payload: new URLSearchParams({ email, password: PASSWORD }).toString(),
    remoteAddress: from.ip,
    headers: headersFrom(from, { 'content-type': 'application/x-www-form-urlencoded' }),
  });
  if (response.statusCode !== 200) throw new Error(`login failed: ${response.body}`);
  return sessionCookieOf(response);
}

/** Logs in through the GraphQL login mutation from the given client; returns the `session_id=...` cookie. */
async function graphqlLogin(app: TestApp, email: string, from: From = {}): Promise<string> {
  const answer = await gql(app, LOGIN, { email, password: PASSWORD }, from);
  if (answer.errors !== undefined) throw new Error(`login failed: ${answer.response.body}`);
  return sessionCookieOf(answer.response);
}

/** The `sessions` list as the holder of `cookie` sees it; fails the test on any error. */
async function sessionsOf(app: TestApp, cookie: string): Promise<SessionData[]> {
  const answer = await gql<{ sessions: SessionData[] }>(app, SESSIONS, {}, { cookie });
  expect(answer.errors).toBeUndefined();
  return answer.data?.sessions ?? [];
}

/** The status GET /profile answers with this cookie: 200 while its session lives, 403 after. */
async function profileStatus(app: TestApp, cookie: string): Promise<number> {
  return (await sendEmpty(app, 'GET', '/profile', cookie)).statusCode;
}

/** The app's clock now, as GraphQL's DateTimeISO writes it. */
function nowIso(app: TestApp): string {
  return app.clock.now().toISOString();
}

/** An ISO time `seconds` after another one. */
function plusSeconds(iso: string, seconds: number): string {
  return new Date(Date.parse(iso) + seconds * 1000).toISOString();
}

/** SHA-256 hex, as the sessions table stores a token. */
function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** Runs raw SQL against the app's database and returns the rows. */
function rows<T extends object>(app: TestApp, sql: string, params: unknown[] = []): Promise<T[]> {
  return app.orm.em.getConnection().execute<T[]>(sql, params);
}

/** How many rows of the sessions table belong to the user with this email (expired ones included). */
async function storedSessionCount(app: TestApp, email: string): Promise<number> {
  const [row] = await rows<{ n: number }>(
    app,
    'select cast(count(*) as integer) as n from sessions s join users u on u.id = s.user_id where u.email = ?',
    [email],
  );
  return row.n;
}

describe('with one app for the whole suite', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp();
  });
  afterAll(async () => {
    await app.close();
  });

  describe('sessions', () => {
    it("lists the one session with every field: times, the login's User-Agent and address, and current", async () => {
      const email = await registeredUser(app);
      const loggedInAt = nowIso(app);
      const cookie = await restLogin(app, email, LAPTOP);

      expect(await sessionsOf(app, cookie)).toEqual([
        {
          id: expect.stringMatching(PUBLIC_ID) as string,
          createdAt: loggedInAt,
          lastSeenAt: loggedInAt,
          expiresAt: plusSeconds(loggedInAt, IDLE_TTL_SECONDS),
          userAgent: LAPTOP.userAgent,
          ip: LAPTOP.ip,
          current: true,
        },
      ]);
    });

    it('tells two devices apart: both see both, newest first, each marked current only for itself', async () => {
      const email = await registeredUser(app);
      const laptopAt = nowIso(app);
      const laptop = await restLogin(app, email, LAPTOP);
      app.clock.advanceSeconds(90);
      const phoneAt = nowIso(app);
      const phone = await graphqlLogin(app, email, PHONE);

      const fromPhone = await sessionsOf(app, phone);
      expect(fromPhone).toEqual([
        {
          id: expect.stringMatching(PUBLIC_ID) as string,
          createdAt: phoneAt,
          lastSeenAt: phoneAt,
          expiresAt: plusSeconds(phoneAt, IDLE_TTL_SECONDS),
          userAgent: PHONE.userAgent,
          ip: PHONE.ip,
          current: true,
        },
        {
          id: expect.stringMatching(PUBLIC_ID) as string,
          createdAt: laptopAt,
          lastSeenAt: laptopAt,
          expiresAt: plusSeconds(laptopAt, IDLE_TTL_SECONDS),
          userAgent: LAPTOP.userAgent,
          ip: LAPTOP.ip,
          current: false,
        },
      ]);
      expect(fromPhone[0].id).not.toBe(fromPhone[1].id);
      // The laptop sees the same two sessions, by the same ids, with only the current flag swapped.
      expect(await sessionsOf(app, laptop)).toEqual([
        { ...fromPhone[0], current: false },
        { ...fromPhone[1], current: true },
      ]);
    });

    it('lists sessions newest first by login time', async () => {
      const email = await registeredUser(app);
      const first = await restLogin(app, email, LAPTOP);
      app.clock.advanceSeconds(10);
      await restLogin(app, email, PHONE);
      app.clock.advanceSeconds(10);
      await graphqlLogin(app, email, TABLET);

      const listed = await sessionsOf(app, first);
      expect(listed.map((session) => session.userAgent)).toEqual([
        TABLET.userAgent,
        PHONE.userAgent,
        LAPTOP.userAgent,
      ]);
      const times = listed.map((session) => Date.parse(session.createdAt));
      expect(times).toEqual([...times].sort((a, b) => b - a));
      expect(listed.map((session) => session.current)).toEqual([false, false, true]);
    });

    it('gives ids that are neither the cookie token, nor its SHA-256, nor any part of a cookie', async () => {
      const email = await registeredUser(app);
      const cookies = [await restLogin(app, email, LAPTOP), await graphqlLogin(app, email, PHONE)];
      const tokens = cookies.map(tokenOf);
      const hashes = tokens.map(sha256Hex);
      const answer = await gql<{ sessions: SessionData[] }>(app, SESSIONS, {}, { cookie: cookies[0] });
      const ids = (answer.data?.sessions ?? []).map((session) => session.id);

      expect(ids).toHaveLength(2);
      for (const id of ids) {
        expect(id).toMatch(PUBLIC_ID);
        for (const [index, cookie] of cookies.entries()) {
          expect(id).not.toBe(tokens[index]);
          expect(id).not.toBe(hashes[index]);
          expect(cookie).not.toContain(id);
          expect(hashes[index]).not.toContain(id);
        }
      }
      // Nor does the answer carry a token or a stored hash anywhere else.
      for (const secret of [...tokens, ...hashes]) expect(answer.response.body).not.toContain(secret);
      const stored = await rows<{ token_hash: string; public_id: string }>(
        app,
        'select s.token_hash, s.public_id from sessions s join users u on u.id = s.user_id where u.email = ?',
        [email],
      );
      expect(stored.map((row) => row.token_hash).sort()).toEqual([...hashes].sort());
      expect(stored.map((row) => row.public_id).sort()).toEqual([...ids].sort());
    });

    it('keeps the first 512 characters of a long User-Agent, and none of an empty one', async () => {
      const email = await registeredUser(app);
      const longAgent = `Mozilla/5.0 ${'x'.repeat(600)}`;
      const long = await restLogin(app, email, { ip: LAPTOP.ip, userAgent: longAgent });
      app.clock.advanceSeconds(1);
      await graphqlLogin(app, email, { ip: PHONE.ip, userAgent: '' });

      const listed = await sessionsOf(app, long);
      expect(listed.map(({ userAgent, ip }) => ({ userAgent, ip }))).toEqual([
        { userAgent: null, ip: PHONE.ip },
        { userAgent: longAgent.slice(0, 512), ip: LAPTOP.ip },
      ]);
    });

    it('moves lastSeenAt and expiresAt when a session is used after the touch interval', async () => {
      const email = await registeredUser(app);
      const loggedInAt = nowIso(app);
      const cookie = await restLogin(app, email, LAPTOP);
      app.clock.advanceSeconds(2 * SECONDS_PER_HOUR);
      const usedAt = nowIso(app);

      expect(await sessionsOf(app, cookie)).toEqual([
        {
          id: expect.stringMatching(PUBLIC_ID) as string,
          createdAt: loggedInAt,
          lastSeenAt: usedAt,
          expiresAt: plusSeconds(usedAt, IDLE_TTL_SECONDS),
          userAgent: LAPTOP.userAgent,
          ip: LAPTOP.ip,
          current: true,
        },
      ]);
    });

    it('leaves out an expired session even while its row is still stored', async () => {
      const email = await registeredUser(app);
      await restLogin(app, email, LAPTOP);
      app.clock.advanceSeconds(6 * SECONDS_PER_DAY);
      const phone = await restLogin(app, email, PHONE);
      // The laptop's session expires exactly now (expires_at = now counts as expired).
      app.clock.advanceSeconds(SECONDS_PER_DAY);

      const listed = await sessionsOf(app, phone);
      expect(listed.map(({ userAgent, current }) => ({ userAgent, current }))).toEqual([
        { userAgent: PHONE.userAgent, current: true },
      ]);
      expect(await storedSessionCount(app, email)).toBe(2);
    });

    it("never lists another user's sessions", async () => {
      const mine = await restLogin(app, await registeredUser(app), LAPTOP);
      const otherEmail = await registeredUser(app);
      await restLogin(app, otherEmail, PHONE);
      await graphqlLogin(app, otherEmail, TABLET);

      const listed = await sessionsOf(app, mine);
      expect(listed.map(({ userAgent, current }) => ({ userAgent, current }))).toEqual([
        { userAgent: LAPTOP.userAgent, current: true },
      ]);
    });
  });

  describe('revokeSession', () => {
    it("ends the caller's other device: true, then that cookie gets 403 and this one still works", async () => {
      const email = await registeredUser(app);
      const laptop = await restLogin(app, email, LAPTOP);
      app.clock.advanceSeconds(1);
      const phone = await graphqlLogin(app, email, PHONE);
      const [phoneSession, laptopSession] = await sessionsOf(app, laptop);
      expect(phoneSession.userAgent).toBe(PHONE.userAgent);

      const answer = await gql(app, REVOKE_SESSION, { id: phoneSession.id }, { ...LAPTOP, cookie: laptop });
      expect(answer.errors).toBeUndefined();
      expect(answer.data).toEqual({ revokeSession: true });
      expect(setCookies(answer.response)).toEqual([]);

      const refused = await sendEmpty(app, 'GET', '/profile', phone);
      expect(refused.statusCode).toBe(403);
      expect(refused.body).toBe(NO_SESSION_BODY);
      expect((await sendEmpty(app, 'GET', '/profile', laptop)).json()).toEqual({ email });
      expect(await sessionsOf(app, laptop)).toEqual([laptopSession]);
      expect(await storedSessionCount(app, email)).toBe(1);
    });

    it('ends the current session too: true, and its own cookie stops working', async () => {
      const email = await registeredUser(app);
      const laptop = await restLogin(app, email, LAPTOP);
      const phone = await restLogin(app, email, PHONE);
      const current = (await sessionsOf(app, laptop)).find((session) => session.current);

      const answer = await gql(app, REVOKE_SESSION, { id: current?.id }, { cookie: laptop });
      expect(answer.data).toEqual({ revokeSession: true });
      expect(await profileStatus(app, laptop)).toBe(403);
      expect(await profileStatus(app, phone)).toBe(200);
      expect((await sessionsOf(app, phone)).map((session) => session.userAgent)).toEqual([PHONE.userAgent]);
    });

    it("answers false for another user's session id, and their session keeps working", async () => {
      const attacker = await restLogin(app, await registeredUser(app), LAPTOP);
      const victimEmail = await registeredUser(app);
      const victim = await restLogin(app, victimEmail, PHONE);
      const victimSessions = await sessionsOf(app, victim);

      const answer = await gql(app, REVOKE_SESSION, { id: victimSessions[0].id }, { cookie: attacker });
      expect(answer.errors).toBeUndefined();
      expect(answer.data).toEqual({ revokeSession: false });

      expect((await sendEmpty(app, 'GET', '/profile', victim)).json()).toEqual({ email: victimEmail });
      expect(await sessionsOf(app, victim)).toEqual(victimSessions);
      expect(await profileStatus(app, attacker)).toBe(200);
    });

    it('answers false for an unknown id, including the cookie token and its hash, and changes nothing', async () => {
      const email = await registeredUser(app);
      const cookie = await restLogin(app, email, LAPTOP);
      const other = await restLogin(app, email, PHONE);
      const before = await sessionsOf(app, cookie);
      const unknownIds = [
        'no-such-session',
        'A'.repeat(22),
        '',
        '1',
        tokenOf(cookie),
        sha256Hex(tokenOf(cookie)),
        tokenOf(other),
      ];

      for (const id of unknownIds) {
        const answer = await gql(app, REVOKE_SESSION, { id }, { cookie });
        expect(answer.errors).toBeUndefined();
        expect(answer.data).toEqual({ revokeSession: false });
      }
      expect(await sessionsOf(app, cookie)).toEqual(before);
      expect(await profileStatus(app, other)).toBe(200);
    });

    it('answers false when the same session is revoked a second time', async () => {
      const email = await registeredUser(app);
      const laptop = await restLogin(app, email, LAPTOP);
      app.clock.advanceSeconds(1);
      await restLogin(app, email, PHONE);
      const [phoneSession] = await sessionsOf(app, laptop);

      expect((await gql(app, REVOKE_SESSION, { id: phoneSession.id }, { cookie: laptop })).data).toEqual({
        revokeSession: true,
      });
      expect((await gql(app, REVOKE_SESSION, { id: phoneSession.id }, { cookie: laptop })).data).toEqual({
        revokeSession: false,
      });
    });
  });

  describe('logoutEverywhere', () => {
    it('ends every session of the caller, this one included, returns how many and clears the cookie', async () => {
      const email = await registeredUser(app);
      const cookies = [
        await restLogin(app, email, LAPTOP),
        await graphqlLogin(app, email, PHONE),
        await restLogin(app, email, TABLET),
      ];
      const bystanderEmail = await registeredUser(app);
      const bystander = await restLogin(app, bystanderEmail, LAPTOP);

      const answer = await gql(app, LOGOUT_EVERYWHERE, {}, { ...PHONE, cookie: cookies[1] });
      expect(answer.errors).toBeUndefined();
      expect(answer.data).toEqual({ logoutEverywhere: 3 });
      expect(setCookies(answer.response)).toEqual([CLEARED_SESSION_COOKIE]);

      for (const cookie of cookies) {
        const response = await sendEmpty(app, 'GET', '/profile', cookie);
        expect(response.statusCode).toBe(403);
        expect(response.body).toBe(NO_SESSION_BODY);
      }
      expect(await storedSessionCount(app, email)).toBe(0);
      expect((await sendEmpty(app, 'GET', '/profile', bystander)).json()).toEqual({ email: bystanderEmail });
      // A new login works as usual afterwards.
      expect(await sessionsOf(app, await restLogin(app, email, LAPTOP))).toHaveLength(1);
    });

    it('answers 1 for a single session', async () => {
      const cookie = await restLogin(app, await registeredUser(app));
      expect((await gql(app, LOGOUT_EVERYWHERE, {}, { cookie })).data).toEqual({ logoutEverywhere: 1 });
    });

    // A request that slid its session's expiry forward re-sends the cookie (session-hook); logoutEverywhere must
    // replace that with the clearing one, not add a second Set-Cookie for the same name.
    it('sends only the clearing Set-Cookie even when the request slid the session forward', async () => {
      const cookie = await restLogin(app, await registeredUser(app));
      app.clock.advanceSeconds(2 * SECONDS_PER_HOUR);

      const answer = await gql(app, LOGOUT_EVERYWHERE, {}, { cookie });
      expect(answer.data).toEqual({ logoutEverywhere: 1 });
      expect(setCookies(answer.response)).toEqual([CLEARED_SESSION_COOKIE]);
    });

    // Sessions that already expired (still stored until the clean-up) are not counted, so the count agrees with
    // the `sessions` list the user just saw.
    it('counts only live sessions, not an expired one the clean-up has not removed yet', async () => {
      const email = await registeredUser(app);
      await restLogin(app, email, LAPTOP);
      app.clock.advanceSeconds(6 * SECONDS_PER_DAY);
      const phone = await restLogin(app, email, PHONE);
      app.clock.advanceSeconds(SECONDS_PER_DAY);
      expect(await sessionsOf(app, phone)).toHaveLength(1);

      expect((await gql(app, LOGOUT_EVERYWHERE, {}, { cookie: phone })).data).toEqual({
        logoutEverywhere: 1,
      });
    });
  });

  describe('without a valid session', () => {
    const operations: [string, string, Record<string, unknown>][] = [
      ['sessions', SESSIONS, {}],
      ['revokeSession', REVOKE_SESSION, { id: 'A'.repeat(22) }],
      ['logoutEverywhere', LOGOUT_EVERYWHERE, {}],
    ];
    const noCookie: string | undefined = undefined;
    const cases = operations.flatMap(([field, query, variables]) => [
      [field, 'no cookie', query, variables, noCookie] as const,
      [field, 'an unknown cookie', query, variables, `session_id=${'Q'.repeat(43)}`] as const,
    ]);

    it.each(cases)('%s answers UNAUTHENTICATED with %s', async (field, _case, query, variables, cookie) => {
      const answer = await gql(app, query, variables, cookie === undefined ? {} : { cookie });
      expect(answer.response.statusCode).toBe(200);
      expect(answer.data).toBeNull();
      expect(answer.errors).toEqual([
        {
          message: 'no valid session',
          locations: [{ line: expect.any(Number) as number, column: expect.any(Number) as number }],
          path: [field],
          extensions: { code: 'UNAUTHENTICATED' },
        },
      ]);
      expect(setCookies(answer.response)).toEqual([]);
    });

    it.each(operations)(
      '%s answers UNAUTHENTICATED with a logged-out cookie',
      async (_field, query, variables) => {
        const cookie = await restLogin(app, await registeredUser(app));
        expect((await sendEmpty(app, 'DELETE', '/sessions', cookie)).statusCode).toBe(302);
        expect(errorCodes(await gql(app, query, variables, { cookie }))).toEqual(['UNAUTHENTICATED']);
      },
    );

    it('leaves a real session alone when revokeSession or logoutEverywhere is called without one', async () => {
      const email = await registeredUser(app);
      const cookie = await restLogin(app, email);
      const [session] = await sessionsOf(app, cookie);

      expect(errorCodes(await gql(app, REVOKE_SESSION, { id: session.id }))).toEqual(['UNAUTHENTICATED']);
      expect(errorCodes(await gql(app, LOGOUT_EVERYWHERE))).toEqual(['UNAUTHENTICATED']);
      expect(await sessionsOf(app, cookie)).toEqual([session]);
    });
  });
});

describe('clean-up', () => {
  const openApps: TestApp[] = [];

  /** A fresh app (so counts are exact) with `env` on top of the test defaults; closed after the test. */
  async function freshApp(env: Record<string, string> = {}): Promise<TestApp> {
    const app = await createTestApp(env);
    openApps.push(app);
    return app;
  }

  afterEach(async () => {
    await Promise.all(openApps.splice(0).map((app) => app.close()));
  });

  /** The public ids of every stored session, sorted. */
  async function storedPublicIds(app: TestApp): Promise<string[]> {
    return (await rows<{ public_id: string }>(app, 'select public_id from sessions order by public_id')).map(
      (row) => row.public_id,
    );
  }

  /** Each user's stored reset-token state: whether a token hash and an expiry are there (one row holds both). */
  async function resetTokenState(app: TestApp): Promise<Record<string, { token: boolean; expiry: boolean }>> {
    const users = await rows<{ email: string; tokens: number | string }>(
      app,
      'select u.email, count(t.id) as tokens from users u ' +
        'left join password_reset_tokens t on t.user_id = u.id and t.expires_at is not null group by u.email',
    );
    return Object.fromEntries(
      users.map((user) => [user.email, { token: Number(user.tokens) > 0, expiry: Number(user.tokens) > 0 }]),
    );
  }

  /** Asks for a reset token through REST and returns it (tokens come back in the answer in tests). */
  async function resetTokenFor(app: TestApp, email: string): Promise<string> {
    const response = await sendForm(app, 'POST', '/reset_password', { email });
    if (response.statusCode !== 200) throw new Error(`reset request failed: ${response.body}`);
    return response.json<{ reset_token: string }>().reset_token;
  }

  it('deletes expired sessions and keeps live ones, including an old one whose use slid its expiry', async () => {
    const app = await freshApp();
    const email = await registeredUser(app);
    const expiring = [await restLogin(app, email, LAPTOP), await restLogin(app, email, PHONE)];
    const slid = await restLogin(app, email, TABLET);
    app.clock.advanceSeconds(6 * SECONDS_PER_DAY);
    expect(await profileStatus(app, slid)).toBe(200);
    const fresh = await restLogin(app, email, LAPTOP);
    app.clock.advanceSeconds(SECONDS_PER_DAY + 1);
    const live = await sessionsOf(app, fresh);
    expect(live).toHaveLength(2);

    expect(await app.cleanup.runOnce()).toEqual({
      sessions: 2,
      resetTokens: 0,
      securityEvents: 0,
      failedMails: 0,
    });
    expect(await storedPublicIds(app)).toEqual(live.map((session) => session.id).sort());
    expect(await profileStatus(app, slid)).toBe(200);
    expect(await profileStatus(app, fresh)).toBe(200);
    for (const cookie of expiring) expect(await profileStatus(app, cookie)).toBe(403);
    // Nothing left to do: a second run removes nothing.
    expect(await app.cleanup.runOnce()).toEqual({
      sessions: 0,
      resetTokens: 0,
      securityEvents: 0,
      failedMails: 0,
    });
  });

  it('clears expired reset tokens and keeps live ones, which still work', async () => {
    const app = await freshApp();
    const expiredEmail = await registeredUser(app);
    const liveEmail = await registeredUser(app);
    const neverEmail = await registeredUser(app);
    const expiredToken = await resetTokenFor(app, expiredEmail);
    app.clock.advanceSeconds(RESET_TOKEN_TTL_SECONDS + 1);
    const liveToken = await resetTokenFor(app, liveEmail);

    expect(await app.cleanup.runOnce()).toEqual({
      sessions: 0,
      resetTokens: 1,
      securityEvents: 0,
      failedMails: 0,
    });
    expect(await resetTokenState(app)).toEqual({
      [expiredEmail]: { token: false, expiry: false },
      [liveEmail]: { token: true, expiry: true },
      [neverEmail]: { token: false, expiry: false },
    });

    const stale = await sendForm(app, 'PUT', '/reset_password', {
      email: expiredEmail,
      reset_token: expiredToken,
      new_password: NEW_PASSWORD,
    });
    expect(stale.statusCode).toBe(403);
    expect(stale.json()).toEqual({ message: 'invalid or expired reset token' });
    const used = await sendForm(app, 'PUT', '/reset_password', {
      email: liveEmail,
      reset_token: liveToken,
      new_password: NEW_PASSWORD,
    });
    expect(used.statusCode).toBe(200);
    expect(used.json()).toEqual({ email: liveEmail, message: 'Password updated' });
  });

  it.each([1, 2, 4, 5])(
    'with CLEANUP_BATCH_SIZE=2 removes all of %d expired sessions and reset tokens, and counts each once',
    async (expired) => {
      const app = await freshApp({ CLEANUP_BATCH_SIZE: '2' });
      for (let i = 0; i < expired; i += 1) {
        const email = await registeredUser(app);
        await restLogin(app, email);
        await resetTokenFor(app, email);
      }
      app.clock.advanceSeconds(IDLE_TTL_SECONDS + 1);
      const liveEmail = await registeredUser(app);
      const live = await restLogin(app, liveEmail);
      await resetTokenFor(app, liveEmail);
      const [liveSession] = await sessionsOf(app, live);

      expect(await app.cleanup.runOnce()).toEqual({
        sessions: expired,
        resetTokens: expired,
        securityEvents: 0,
        failedMails: 0,
      });
      expect(await storedPublicIds(app)).toEqual([liveSession.id]);
      expect(Object.values(await resetTokenState(app)).filter((state) => state.token)).toHaveLength(1);
    },
  );

  it('answers GET /profile while a run is in progress', async () => {
    const app = await freshApp({ CLEANUP_BATCH_SIZE: '1' });
    const email = await registeredUser(app);
    for (let i = 0; i < 30; i += 1) await restLogin(app, email);
    app.clock.advanceSeconds(IDLE_TTL_SECONDS + 1);
    const live = await restLogin(app, email);

    const finished: string[] = [];
    const run = app.cleanup.runOnce().then((result) => {
      finished.push('clean-up');
      return result;
    });
    const profile = sendEmpty(app, 'GET', '/profile', live).then((response) => {
      finished.push('profile');
      return response;
    });
    const [result, response] = await Promise.all([run, profile]);

    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ email });
    expect(result).toEqual({ sessions: 30, resetTokens: 0, securityEvents: 0, failedMails: 0 });
    // One row per statement and a yield between statements: the request did not wait for all 30.
    expect(finished).toEqual(['profile', 'clean-up']);
    expect(await storedSessionCount(app, email)).toBe(1);
  });

  it('shares one run between concurrent runOnce calls', async () => {
    const app = await freshApp();
    await restLogin(app, await registeredUser(app));
    app.clock.advanceSeconds(IDLE_TTL_SECONDS + 1);

    const [first, second] = await Promise.all([app.cleanup.runOnce(), app.cleanup.runOnce()]);
    expect(first).toEqual({ sessions: 1, resetTokens: 0, securityEvents: 0, failedMails: 0 });
    expect(second).toBe(first);
  });

  it('runs by itself every CLEANUP_INTERVAL_SECONDS and logs what it removed', async () => {
    const app = await freshApp({ CLEANUP_INTERVAL_SECONDS: '1' });
    const email = await registeredUser(app);
    await restLogin(app, email);
    await resetTokenFor(app, email);
    app.clock.advanceSeconds(IDLE_TTL_SECONDS + 1);

    /** The `removed` counts of every "clean-up removed expired data" log line so far. */
    const runsLogged = (): unknown[] =>
      app.logLines
        .map((line) => JSON.parse(line) as { msg: string; removed?: unknown })
        .filter((line) => line.msg === 'clean-up removed expired data')
        .map((line) => line.removed);
    const deadline = Date.now() + 5000;
    while (runsLogged().length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(runsLogged()).toEqual([{ sessions: 1, resetTokens: 1, securityEvents: 0, failedMails: 0 }]);
    expect(await storedSessionCount(app, email)).toBe(0);
    expect(await resetTokenState(app)).toEqual({ [email]: { token: false, expiry: false } });
  });
});
