// The security event log through the real app: every event on both transports, the securityEvents query, no secrets, retention.
import { createHash } from 'node:crypto';
import { ERROR_CATALOGUE, type ErrorCode } from '../../src/errors';
import { createTestApp, type TestApp } from '../helpers/test-app';
import {
  errorCodes,
  LOGIN,
  LOGOUT,
  REGISTER,
  REQUEST_RESET,
  RESET,
  type GraphQLAnswer,
  type GraphQLErrorBody,
} from '../helpers/graphql';
import { sessionCookieOf, tokenOf } from '../helpers/http';
import { NEW_PASSWORD, PASSWORD, registeredUser, uniqueEmail } from '../helpers/factories';

const SECONDS_PER_DAY = 24 * 60 * 60;
/** SECURITY_EVENT_RETENTION_DAYS's default. */
const RETENTION_DAYS = 90;
/** A wrong password that passes the policy, so it costs a real bcrypt compare. */
const WRONG_PASSWORD = 'not the password 1';
/** A password no account can have (over bcrypt's 72 bytes): refused without a compare. */
const IMPOSSIBLE_PASSWORD = `${PASSWORD}${'y'.repeat(80)}`;

/** The two ways into account operations. */
type Transport = 'REST' | 'GraphQL';
const TRANSPORTS: readonly Transport[] = ['REST', 'GraphQL'];

/** Where a request comes from: the socket's address, the User-Agent header and the session cookie, each optional. */
interface From {
  readonly ip?: string;
  readonly userAgent?: string;
  readonly cookie?: string;
}

const LAPTOP = { ip: '198.51.100.10', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0' } as const;
const PHONE = { ip: '203.0.113.20', userAgent: 'AuthApp/2.1 (iPhone; iOS 18.1)' } as const;

/** One row of the security_events table, as raw SQL returns it. */
interface EventRow {
  id: number;
  created_at: number;
  type: string;
  user_id: number | null;
  email: string | null;
  ip: string | null;
  user_agent: string | null;
  reason: string | null;
  count: number;
}

/** A stored event without its row id, in the names the tests compare. */
interface StoredEvent {
  createdAt: string;
  type: string;
  userId: number | null;
  email: string | null;
  ip: string | null;
  userAgent: string | null;
  reason: string | null;
  count: number;
}

/** One entry of the securityEvents query, every field asked for. */
interface EventData {
  id: string;
  createdAt: string;
  type: string;
  email: string | null;
  ip: string | null;
  userAgent: string | null;
  reason: string | null;
}

const EVENT_FIELDS = 'id createdAt type email ip userAgent reason';
const SECURITY_EVENTS = `query Events { securityEvents { ${EVENT_FIELDS} } }`;
const SECURITY_EVENTS_LIMITED = `query Events($limit: Int!) { securityEvents(limit: $limit) { ${EVENT_FIELDS} } }`;
const REVOKE_SESSION = `mutation Revoke($id: ID!) { revokeSession(id: $id) }`;
const LOGOUT_EVERYWHERE = `mutation LogoutEverywhere { logoutEverywhere }`;
const SESSION_IDS = `query Sessions { sessions { id current } }`;
const CHANGE_PASSWORD = `mutation Change($currentPassword: String!, $newPassword: String!) {
  changePassword(currentPassword: $currentPassword, newPassword: $newPassword)
}`;

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

/** How a call ended, the same for both transports. */
interface Outcome {
  /** null on success; else the GraphQL error code, or `HTTP <status>` for REST. */
  readonly refusal: string | null;
  /** The `session_id=...` cookie a login set, else null. */
  readonly cookie: string | null;
  /** The reset token a reset request returned, else null. */
  readonly resetToken: string | null;
}

/** The refusal an Outcome carries for this error code on this transport. */
function refusal(transport: Transport, code: ErrorCode): string {
  return transport === 'REST' ? `HTTP ${ERROR_CATALOGUE[code].status}` : code;
}

/** Sends one REST request with a form body from the given client and shapes its answer as an Outcome. */
async function rest(
  app: TestApp,
  method: 'POST' | 'PUT' | 'DELETE',
  url: string,
  fields: Record<string, string>,
  from: From,
): Promise<Outcome> {
  const response = await app.server.inject({
    method,
    url,
    payload: new URLSearchParams(fields).toString(),
    remoteAddress: from.ip,
    headers: headersFrom(from, { 'content-type': 'application/x-www-form-urlencoded' }),
  });
  const ok = response.statusCode === 200 || response.statusCode === 302;
  const body = response.headers['content-type']?.toString().startsWith('application/json')
    ? response.json<{ reset_token?: string }>()
    : {};
  return {
    refusal: ok ? null : `HTTP ${response.statusCode}`,
    cookie: url === '/sessions' && method === 'POST' && ok ? sessionCookieOf(response) : null,
    resetToken: body.reset_token ?? null,
  };
}

/** Runs one GraphQL mutation from the given client and shapes its answer as an Outcome. */
async function mutation(
  app: TestApp,
  query: string,
  variables: Record<string, unknown>,
  from: From,
): Promise<Outcome> {
  const answer = await gql<{ login?: unknown; requestPasswordReset?: { resetToken: string | null } }>(
    app,
    query,
    variables,
    from,
  );
  const [code] = errorCodes(answer);
  return {
    refusal: answer.errors === undefined ? null : (code ?? 'NO CODE'),
    cookie: answer.data?.login === undefined ? null : sessionCookieOf(answer.response),
    resetToken: answer.data?.requestPasswordReset?.resetToken ?? null,
  };
}

/** Registers through the given transport. */
function register(app: TestApp, transport: Transport, email: string, from: From): Promise<Outcome> {
  return transport === 'REST'
    ? rest(app, 'POST', '/users', { email, password: PASSWORD }, from)
    : mutation(app, REGISTER, { email, password: PASSWORD }, from);
}

/** Logs in through the given transport. */
function login(
  app: TestApp,
  transport: Transport,
  email: string,
  password: string,
  from: From,
): Promise<Outcome> {
  return transport === 'REST'
    ? rest(app, 'POST', '/sessions', { email, password }, from)
    : mutation(app, LOGIN, { email, password }, from);
}

/** Logs in with the right password and returns the cookie; fails the test otherwise. */
async function signIn(app: TestApp, transport: Transport, email: string, from: From): Promise<string> {
  const outcome = await login(app, transport, email, PASSWORD, from);
  if (outcome.cookie === null) throw new Error(`login failed: ${outcome.refusal}`);
  return outcome.cookie;
}

/** Logs out (DELETE /sessions, or the logout mutation) with the cookie in `from`. */
async function logout(app: TestApp, transport: Transport, from: From): Promise<Outcome> {
  if (transport === 'REST') return rest(app, 'DELETE', '/sessions', {}, from);
  const answer = await gql<{ logout: boolean }>(app, LOGOUT, {}, from);
  return { refusal: answer.data?.logout === true ? null : 'false', cookie: null, resetToken: null };
}

/** Asks for a password reset through the given transport. */
function requestReset(app: TestApp, transport: Transport, email: string, from: From): Promise<Outcome> {
  return transport === 'REST'
    ? rest(app, 'POST', '/reset_password', { email }, from)
    : mutation(app, REQUEST_RESET, { email }, from);
}

/** Sets a new password with a reset token through the given transport. */
function resetPassword(
  app: TestApp,
  transport: Transport,
  email: string,
  resetToken: string,
  from: From,
): Promise<Outcome> {
  return transport === 'REST'
    ? rest(
        app,
        'PUT',
        '/reset_password',
        { email, reset_token: resetToken, new_password: NEW_PASSWORD },
        from,
      )
    : mutation(app, RESET, { email, resetToken, newPassword: NEW_PASSWORD }, from);
}

/** Runs raw SQL against the app's database and returns the rows. */
function rows<T extends object>(app: TestApp, sql: string, params: unknown[] = []): Promise<T[]> {
  return app.orm.em.getConnection().execute<T[]>(sql, params);
}

/** Every stored event with an id above `afterId`, oldest first. */
function eventRows(app: TestApp, afterId = 0): Promise<EventRow[]> {
  return rows<EventRow>(app, 'select * from security_events where id > ? order by id', [afterId]);
}

/** The highest event id so far (0 for none). */
async function lastEventId(app: TestApp): Promise<number> {
  const [row] = await rows<{ last: number | null }>(app, 'select max(id) as last from security_events');
  return row.last ?? 0;
}

/** A raw row in the names the tests compare, without its id. */
function storedEvent(row: EventRow): StoredEvent {
  return {
    createdAt: new Date(row.created_at).toISOString(),
    type: row.type,
    userId: row.user_id,
    email: row.email,
    ip: row.ip,
    userAgent: row.user_agent,
    reason: row.reason,
    count: Number(row.count),
  };
}

/**
 * The events stored while `action` ran, oldest first, once the work it started after its answers (reset mail) is
 * done and its refusals, which are tallied, are written.
 */
async function eventsDuring(app: TestApp, action: () => Promise<unknown>): Promise<StoredEvent[]> {
  const before = await lastEventId(app);
  await action();
  await app.settled();
  return (await eventRows(app, before)).map(storedEvent);
}

/** The id of the user with this (normalised) email. */
async function userIdOf(app: TestApp, email: string): Promise<number> {
  const [row] = await rows<{ id: number }>(app, 'select id from users where email = ?', [email]);
  if (row === undefined) throw new Error(`no user ${email}`);
  return row.id;
}

/** An event as it is stored for a request from `from` at the app's current time. */
function expectedEvent(
  app: TestApp,
  from: { ip: string; userAgent: string },
  type: string,
  fields: { userId: number | null; email: string | null; reason?: string; count?: number },
): StoredEvent {
  return {
    createdAt: app.clock.now().toISOString(),
    type,
    userId: fields.userId,
    email: fields.email,
    ip: from.ip,
    userAgent: from.userAgent,
    reason: fields.reason ?? null,
    count: fields.count ?? 1,
  };
}

/** The securityEvents list as the holder of `cookie` sees it, with `limit` if given; fails the test on errors. */
async function securityEventsOf(app: TestApp, cookie: string, limit?: number): Promise<EventData[]> {
  const answer =
    limit === undefined
      ? await gql<{ securityEvents: EventData[] }>(app, SECURITY_EVENTS, {}, { cookie })
      : await gql<{ securityEvents: EventData[] }>(app, SECURITY_EVENTS_LIMITED, { limit }, { cookie });
  expect(answer.errors).toBeUndefined();
  return answer.data?.securityEvents ?? [];
}

/** The public id of a session of the same user other than the one holding `cookie`. */
async function otherSessionId(app: TestApp, cookie: string): Promise<string> {
  const answer = await gql<{ sessions: { id: string; current: boolean }[] }>(
    app,
    SESSION_IDS,
    {},
    { cookie },
  );
  const other = answer.data?.sessions.find((session) => !session.current);
  if (other === undefined) throw new Error(`no other session: ${answer.response.body}`);
  return other.id;
}

/** An email as a careless client might type it: padded and in capitals. */
function sloppy(email: string): string {
  return `  ${email.toUpperCase()} `;
}

describe('with one app for the whole suite (limits off)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp();
  });
  afterAll(async () => {
    await app.close();
  });

  describe('each event is recorded with its type, reason, email, address and user agent', () => {
    it.each(TRANSPORTS)('%s: register records REGISTERED with the normalised email', async (transport) => {
      const email = uniqueEmail();
      let outcome: Outcome | undefined;
      const events = await eventsDuring(app, async () => {
        outcome = await register(app, transport, sloppy(email), LAPTOP);
      });
      expect(outcome?.refusal).toBeNull();
      expect(events).toEqual([
        expectedEvent(app, LAPTOP, 'REGISTERED', { userId: await userIdOf(app, email), email }),
      ]);
    });

    it.each(TRANSPORTS)('%s: a refused registration records nothing', async (transport) => {
      const taken = await registeredUser(app);
      const events = await eventsDuring(app, async () => {
        expect((await register(app, transport, taken, LAPTOP)).refusal).toBe(
          refusal(transport, 'EMAIL_TAKEN'),
        );
      });
      expect(events).toEqual([]);
    });

    it.each(TRANSPORTS)('%s: login records LOGIN_SUCCEEDED', async (transport) => {
      const email = await registeredUser(app);
      const events = await eventsDuring(app, () => signIn(app, transport, sloppy(email), PHONE));
      expect(events).toEqual([
        expectedEvent(app, PHONE, 'LOGIN_SUCCEEDED', { userId: await userIdOf(app, email), email }),
      ]);
    });

    /** One way a login fails: what is sent, the email kept, whether the row names the account, and why. */
    interface FailedLogin {
      readonly email: (registered: string) => string;
      readonly password: string;
      readonly stored: (registered: string) => string | null;
      readonly owned: boolean;
      readonly reason: string;
    }
    const failedLogins: Record<string, FailedLogin> = {
      'a wrong password': {
        email: (registered) => registered,
        password: WRONG_PASSWORD,
        stored: (registered) => registered,
        owned: true,
        reason: 'WRONG_PASSWORD',
      },
      'an unknown email': {
        email: () => 'Nobody-Here@Example.com',
        password: PASSWORD,
        stored: () => 'nobody-here@example.com',
        owned: false,
        reason: 'UNKNOWN_EMAIL',
      },
      // Refused before any lookup, so the row does not name the account even when the email has one.
      'a password over 72 bytes': {
        email: (registered) => registered,
        password: IMPOSSIBLE_PASSWORD,
        stored: (registered) => registered,
        owned: false,
        reason: 'IMPOSSIBLE_PASSWORD',
      },
      // Input no account can have is not kept as an email at all.
      'a malformed email': {
        email: () => 'no at sign',
        password: PASSWORD,
        stored: () => null,
        owned: false,
        reason: 'UNKNOWN_EMAIL',
      },
    };
    const failures = TRANSPORTS.flatMap((transport) =>
      Object.keys(failedLogins).map((name) => [transport, name] as const),
    );
    it.each(failures)('%s: a login with %s records LOGIN_FAILED and its reason', async (transport, name) => {
      const registered = await registeredUser(app);
      const failure = failedLogins[name];
      let outcome: Outcome | undefined;
      const events = await eventsDuring(app, async () => {
        outcome = await login(app, transport, sloppy(failure.email(registered)), failure.password, LAPTOP);
      });
      expect(outcome?.refusal).toBe(refusal(transport, 'INVALID_CREDENTIALS'));
      expect(events).toEqual([
        expectedEvent(app, LAPTOP, 'LOGIN_FAILED', {
          userId: failure.owned ? await userIdOf(app, registered) : null,
          email: failure.stored(registered),
          reason: failure.reason,
        }),
      ]);
    });

    it('GraphQL: changePassword with a wrong current password records LOGIN_FAILED WRONG_CURRENT_PASSWORD', async () => {
      const email = await registeredUser(app);
      const cookie = await signIn(app, 'REST', email, LAPTOP);
      let codes: (string | undefined)[] = [];
      const events = await eventsDuring(app, async () => {
        const answer = await gql(
          app,
          CHANGE_PASSWORD,
          { currentPassword: WRONG_PASSWORD, newPassword: NEW_PASSWORD },
          { ...PHONE, cookie },
        );
        codes = errorCodes(answer);
      });
      expect(codes).toEqual(['INVALID_CREDENTIALS']);
      expect(events).toEqual([
        expectedEvent(app, PHONE, 'LOGIN_FAILED', {
          userId: await userIdOf(app, email),
          email,
          reason: 'WRONG_CURRENT_PASSWORD',
        }),
      ]);
    });

    it.each(TRANSPORTS)(
      '%s: logout records LOGGED_OUT; a logout without a session records nothing',
      async (transport) => {
        const email = await registeredUser(app);
        const cookie = await signIn(app, 'REST', email, LAPTOP);
        const events = await eventsDuring(app, async () => {
          expect((await logout(app, transport, { ...PHONE, cookie })).refusal).toBeNull();
        });
        expect(events).toEqual([
          expectedEvent(app, PHONE, 'LOGGED_OUT', { userId: await userIdOf(app, email), email }),
        ]);

        const again = await eventsDuring(app, async () => {
          expect((await logout(app, transport, { ...PHONE, cookie })).refusal).toBe(
            transport === 'REST' ? 'HTTP 403' : 'false',
          );
        });
        expect(again).toEqual([]);
      },
    );

    it('GraphQL: revokeSession records SESSION_REVOKED when a session ended, and nothing when none did', async () => {
      const email = await registeredUser(app);
      const laptop = await signIn(app, 'REST', email, LAPTOP);
      await signIn(app, 'GraphQL', email, PHONE);
      const other = await otherSessionId(app, laptop);

      const events = await eventsDuring(app, async () => {
        const answer = await gql(app, REVOKE_SESSION, { id: other }, { ...LAPTOP, cookie: laptop });
        expect(answer.data).toEqual({ revokeSession: true });
      });
      expect(events).toEqual([
        expectedEvent(app, LAPTOP, 'SESSION_REVOKED', { userId: await userIdOf(app, email), email }),
      ]);

      const none = await eventsDuring(app, async () => {
        const answer = await gql(app, REVOKE_SESSION, { id: other }, { ...LAPTOP, cookie: laptop });
        expect(answer.data).toEqual({ revokeSession: false });
      });
      expect(none).toEqual([]);
    });

    it('GraphQL: logoutEverywhere records LOGGED_OUT_EVERYWHERE once', async () => {
      const email = await registeredUser(app);
      await signIn(app, 'REST', email, LAPTOP);
      const phone = await signIn(app, 'GraphQL', email, PHONE);
      const events = await eventsDuring(app, async () => {
        const answer = await gql(app, LOGOUT_EVERYWHERE, {}, { ...PHONE, cookie: phone });
        expect(answer.data).toEqual({ logoutEverywhere: 2 });
      });
      expect(events).toEqual([
        expectedEvent(app, PHONE, 'LOGGED_OUT_EVERYWHERE', {
          userId: await userIdOf(app, email),
          email,
        }),
      ]);
    });

    it.each(TRANSPORTS)(
      '%s: a reset request records PASSWORD_RESET_REQUESTED, with reason UNKNOWN_EMAIL for an unknown email',
      async (transport) => {
        const email = await registeredUser(app);
        const known = await eventsDuring(app, async () => {
          const outcome = await requestReset(app, transport, sloppy(email), LAPTOP);
          expect(outcome.refusal).toBeNull();
          expect(outcome.resetToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
        });
        // The account's id is checked apart, in the test of the owner's view (see below).
        expect(known.map((event) => ({ ...event, userId: 'any' }))).toEqual([
          {
            ...expectedEvent(app, LAPTOP, 'PASSWORD_RESET_REQUESTED', { userId: null, email }),
            userId: 'any',
          },
        ]);

        const ghost = uniqueEmail('ghost');
        const unknown = await eventsDuring(app, async () => {
          expect((await requestReset(app, transport, sloppy(ghost), PHONE)).refusal).toBe(
            refusal(transport, 'EMAIL_NOT_REGISTERED'),
          );
        });
        expect(unknown).toEqual([
          expectedEvent(app, PHONE, 'PASSWORD_RESET_REQUESTED', {
            userId: null,
            email: ghost,
            reason: 'UNKNOWN_EMAIL',
          }),
        ]);
      },
    );

    it.each(TRANSPORTS)(
      '%s: a completed reset records PASSWORD_RESET_COMPLETED; a refused one records nothing',
      async (transport) => {
        const email = await registeredUser(app);
        const { resetToken } = await requestReset(app, 'REST', email, LAPTOP);
        const refused = await eventsDuring(app, async () => {
          expect((await resetPassword(app, transport, email, 'Z'.repeat(43), PHONE)).refusal).toBe(
            refusal(transport, 'INVALID_RESET_TOKEN'),
          );
        });
        expect(refused).toEqual([]);

        const events = await eventsDuring(app, async () => {
          expect(
            (await resetPassword(app, transport, sloppy(email), resetToken ?? '', PHONE)).refusal,
          ).toBeNull();
        });
        expect(events).toEqual([
          expectedEvent(app, PHONE, 'PASSWORD_RESET_COMPLETED', {
            userId: await userIdOf(app, email),
            email,
          }),
        ]);
      },
    );

    it('GraphQL: changePassword records PASSWORD_CHANGED', async () => {
      const email = await registeredUser(app);
      const cookie = await signIn(app, 'REST', email, LAPTOP);
      const events = await eventsDuring(app, async () => {
        const answer = await gql(
          app,
          CHANGE_PASSWORD,
          { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
          { ...PHONE, cookie },
        );
        expect(answer.errors).toBeUndefined();
        expect(answer.data).toEqual({ changePassword: true });
      });
      expect(events).toEqual([
        expectedEvent(app, PHONE, 'PASSWORD_CHANGED', { userId: await userIdOf(app, email), email }),
      ]);
    });

    it('keeps the first 512 characters of a long User-Agent, and none of an empty one', async () => {
      const email = await registeredUser(app);
      const userAgent = `Mozilla/5.0 ${'z'.repeat(700)}`;
      const long = await eventsDuring(app, () => signIn(app, 'REST', email, { ip: LAPTOP.ip, userAgent }));
      expect(long.map((event) => event.userAgent)).toEqual([userAgent.slice(0, 512)]);
      const empty = await eventsDuring(app, () =>
        signIn(app, 'GraphQL', email, { ip: LAPTOP.ip, userAgent: '' }),
      );
      expect(empty.map((event) => event.userAgent)).toEqual([null]);
    });
  });

  describe('securityEvents', () => {
    it("shows the signed-in user's events newest first, with every field", async () => {
      const email = uniqueEmail();
      const registeredAt = app.clock.now().toISOString();
      expect((await register(app, 'GraphQL', email, LAPTOP)).refusal).toBeNull();
      app.clock.advanceSeconds(60);
      const failedAt = app.clock.now().toISOString();
      await login(app, 'REST', email, WRONG_PASSWORD, PHONE);
      app.clock.advanceSeconds(60);
      const laptopAt = app.clock.now().toISOString();
      const laptop = await signIn(app, 'REST', email, LAPTOP);
      app.clock.advanceSeconds(60);
      const phoneAt = app.clock.now().toISOString();
      const phone = await signIn(app, 'GraphQL', email, PHONE);
      app.clock.advanceSeconds(60);
      const loggedOutAt = app.clock.now().toISOString();
      await logout(app, 'REST', { ...LAPTOP, cookie: laptop });

      const events = await securityEventsOf(app, phone);
      expect(events).toEqual([
        {
          id: expect.stringMatching(/^\d+$/) as string,
          createdAt: loggedOutAt,
          type: 'LOGGED_OUT',
          email,
          ...LAPTOP,
          reason: null,
        },
        {
          id: expect.any(String) as string,
          createdAt: phoneAt,
          type: 'LOGIN_SUCCEEDED',
          email,
          ...PHONE,
          reason: null,
        },
        {
          id: expect.any(String) as string,
          createdAt: laptopAt,
          type: 'LOGIN_SUCCEEDED',
          email,
          ...LAPTOP,
          reason: null,
        },
        {
          id: expect.any(String) as string,
          createdAt: failedAt,
          type: 'LOGIN_FAILED',
          email,
          ...PHONE,
          reason: 'WRONG_PASSWORD',
        },
        {
          id: expect.any(String) as string,
          createdAt: registeredAt,
          type: 'REGISTERED',
          email,
          ...LAPTOP,
          reason: null,
        },
      ]);
      const stored = await rows<{ id: number }>(
        app,
        'select id from security_events where user_id = ? order by id desc',
        [await userIdOf(app, email)],
      );
      expect(events.map((event) => Number(event.id))).toEqual(stored.map((row) => row.id));
    });

    it('orders events recorded in the same millisecond newest first too', async () => {
      const email = await registeredUser(app);
      await login(app, 'REST', email, WRONG_PASSWORD, LAPTOP);
      const cookie = await signIn(app, 'REST', email, LAPTOP);
      expect((await securityEventsOf(app, cookie)).map((event) => event.type)).toEqual([
        'LOGIN_SUCCEEDED',
        'LOGIN_FAILED',
        'REGISTERED',
      ]);
    });

    describe('limit', () => {
      let cookie: string;
      /** The user's stored event ids, newest first. */
      let storedIds: number[];
      beforeAll(async () => {
        const email = await registeredUser(app);
        for (let i = 0; i < 25; i += 1) await login(app, 'REST', email, WRONG_PASSWORD, LAPTOP);
        cookie = await signIn(app, 'REST', email, LAPTOP);
        storedIds = (
          await rows<{ id: number }>(
            app,
            'select id from security_events where user_id = ? order by id desc',
            [await userIdOf(app, email)],
          )
        ).map((row) => row.id);
        expect(storedIds).toHaveLength(27);
      });

      /** The ids of a list of events, as numbers. */
      const idsOf = (events: EventData[]): number[] => events.map((event) => Number(event.id));

      it('returns the newest 20 by default', async () => {
        const events = await securityEventsOf(app, cookie);
        expect(idsOf(events)).toEqual(storedIds.slice(0, 20));
        expect(events[0].type).toBe('LOGIN_SUCCEEDED');
        expect(events.slice(1).every((event) => event.type === 'LOGIN_FAILED')).toBe(true);
      });

      it.each([1, 2, 27, 100])('returns at most the newest %d when asked for that many', async (limit) => {
        expect(idsOf(await securityEventsOf(app, cookie, limit))).toEqual(storedIds.slice(0, limit));
      });

      it.each([0, -1, 101, 1000])('refuses limit %d with BAD_USER_INPUT', async (limit) => {
        const answer = await gql(app, SECURITY_EVENTS_LIMITED, { limit }, { cookie });
        expect(answer.response.statusCode).toBe(200);
        expect(answer.data).toBeNull();
        expect(answer.errors).toEqual([
          {
            message: 'limit must be between 1 and 100',
            locations: [{ line: 1, column: 30 }],
            path: ['securityEvents'],
            extensions: { code: 'BAD_USER_INPUT' },
          },
        ]);
      });

      it('refuses a limit that is not an Int with BAD_USER_INPUT', async () => {
        const answer = await gql(app, SECURITY_EVENTS_LIMITED, { limit: 2.5 }, { cookie });
        expect(errorCodes(answer)).toEqual(['BAD_USER_INPUT']);
      });
    });

    it('shows a user only their own events, never those of another user', async () => {
      const aliceEmail = await registeredUser(app);
      const bobEmail = await registeredUser(app);
      const alice = await signIn(app, 'REST', aliceEmail, LAPTOP);
      const bob = await signIn(app, 'GraphQL', bobEmail, PHONE);
      await login(app, 'REST', bobEmail, WRONG_PASSWORD, PHONE);
      await logout(app, 'GraphQL', { ...LAPTOP, cookie: await signIn(app, 'REST', aliceEmail, LAPTOP) });

      for (const [email, cookie] of [
        [aliceEmail, alice],
        [bobEmail, bob],
      ] as const) {
        const events = await securityEventsOf(app, cookie, 100);
        const own = await rows<{ id: number }>(
          app,
          'select id from security_events where user_id = ? order by id desc',
          [await userIdOf(app, email)],
        );
        expect(events.map((event) => Number(event.id))).toEqual(own.map((row) => row.id));
        expect(events.every((event) => event.email === email || event.email === null)).toBe(true);
      }
      expect((await securityEventsOf(app, alice)).map((event) => event.type)).toEqual([
        'LOGGED_OUT',
        'LOGIN_SUCCEEDED',
        'LOGIN_SUCCEEDED',
        'REGISTERED',
      ]);
      expect((await securityEventsOf(app, bob)).map((event) => event.type)).toEqual([
        'LOGIN_FAILED',
        'LOGIN_SUCCEEDED',
        'REGISTERED',
      ]);
    });

    it("shows the account's owner a failed login made by someone else, with that client's address", async () => {
      const email = await registeredUser(app);
      const owner = await signIn(app, 'REST', email, LAPTOP);
      const intruder = { ip: '192.0.2.66', userAgent: 'curl/8.5.0' };
      await login(app, 'GraphQL', email, WRONG_PASSWORD, intruder);
      const [latest] = await securityEventsOf(app, owner, 1);
      expect(latest).toEqual({
        id: expect.any(String) as string,
        createdAt: app.clock.now().toISOString(),
        type: 'LOGIN_FAILED',
        email,
        ...intruder,
        reason: 'WRONG_PASSWORD',
      });
    });

    // PASSWORD_RESET_REQUESTED must carry the account's user id, or the owner would never see a reset requested
    // for their account, the very event a takeover starts with.
    it('shows the owner a password reset requested for their account', async () => {
      const email = await registeredUser(app);
      const cookie = await signIn(app, 'REST', email, LAPTOP);
      for (const transport of TRANSPORTS) {
        expect((await requestReset(app, transport, email, PHONE)).refusal).toBeNull();
      }
      expect((await securityEventsOf(app, cookie)).map((event) => event.type)).toEqual([
        'PASSWORD_RESET_REQUESTED',
        'PASSWORD_RESET_REQUESTED',
        'LOGIN_SUCCEEDED',
        'REGISTERED',
      ]);
    });

    it('does not expose the user id', async () => {
      const cookie = await signIn(app, 'REST', await registeredUser(app), LAPTOP);
      for (const field of ['userId', 'user', 'user_id']) {
        const answer = await gql(app, `{ securityEvents { ${field} } }`, {}, { cookie });
        expect(errorCodes(answer)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
      }
    });

    it.each([
      ['no cookie', undefined],
      ['an unknown cookie', `session_id=${'Q'.repeat(43)}`],
    ])('answers UNAUTHENTICATED with %s', async (_case, cookie) => {
      const answer = await gql(app, SECURITY_EVENTS, {}, cookie === undefined ? {} : { cookie });
      expect(answer.data).toBeNull();
      expect(answer.errors).toEqual([
        {
          message: 'no valid session',
          locations: [{ line: 1, column: 16 }],
          path: ['securityEvents'],
          extensions: { code: 'UNAUTHENTICATED' },
        },
      ]);
    });
  });
});

describe('no secret is ever stored', () => {
  /** A SHA-256 hex digest anywhere in a value. */
  const SHA256_HEX_RUN = /[a-f0-9]{64}/i;
  /** A bcrypt hash anywhere in a value. */
  const BCRYPT_HASH = /\$2[aby]\$\d{2}\$/;
  /** A token-shaped run (43 base64url characters) anywhere in a value. */
  const TOKEN_RUN = /[A-Za-z0-9_-]{43}/;

  let app: TestApp;
  beforeAll(async () => {
    // A fresh app, so the scan covers exactly this test's rows; limits on (roomy but one) for a RATE_LIMITED row.
    app = await createTestApp({
      RATE_LIMIT: 'on',
      RATE_LIMIT_REGISTER_PER_IP: '100/1h',
      RATE_LIMIT_RESET_PER_IP: '100/1h',
      RATE_LIMIT_RESET_PER_ACCOUNT: '1/1h',
    });
  });
  afterAll(async () => {
    await app.close();
  });

  it('holds no password, token or hash in any column of any row after every kind of event', async () => {
    const sha256 = (value: string): string => createHash('sha256').update(value, 'utf8').digest('hex');
    const secrets: string[] = [PASSWORD, NEW_PASSWORD, WRONG_PASSWORD, IMPOSSIBLE_PASSWORD];
    const tokens: string[] = [];
    const answers: string[] = [];

    for (const transport of TRANSPORTS) {
      const email = uniqueEmail();
      await register(app, transport, email, LAPTOP);
      await login(app, transport, email, WRONG_PASSWORD, LAPTOP);
      await login(app, transport, email, IMPOSSIBLE_PASSWORD, LAPTOP);
      await login(app, transport, uniqueEmail('ghost'), PASSWORD, LAPTOP);
      const laptop = await signIn(app, transport, email, LAPTOP);
      const phone = await signIn(app, transport, email, PHONE);
      tokens.push(tokenOf(laptop), tokenOf(phone));
      const wrongCurrent = `${WRONG_PASSWORD} ${transport}`;
      secrets.push(wrongCurrent);
      await gql(
        app,
        CHANGE_PASSWORD,
        { currentPassword: wrongCurrent, newPassword: NEW_PASSWORD },
        { cookie: laptop },
      );
      await gql(app, REVOKE_SESSION, { id: await otherSessionId(app, laptop) }, { cookie: laptop });
      answers.push(
        (await gql(app, SECURITY_EVENTS_LIMITED, { limit: 100 }, { cookie: laptop })).response.body,
      );
      await logout(app, transport, { cookie: laptop });
      const { resetToken } = await requestReset(app, transport, email, LAPTOP);
      tokens.push(resetToken ?? '');
      // One request too many for the account: RATE_LIMITED.
      expect((await requestReset(app, transport, email, LAPTOP)).refusal).toBe(
        refusal(transport, 'RATE_LIMITED'),
      );
      await resetPassword(app, transport, email, resetToken ?? '', LAPTOP);
      const afterReset = await login(app, transport, email, NEW_PASSWORD, LAPTOP);
      tokens.push(tokenOf(afterReset.cookie ?? ''));
    }
    const email = uniqueEmail();
    await register(app, 'GraphQL', email, PHONE);
    const cookie = await signIn(app, 'GraphQL', email, PHONE);
    tokens.push(tokenOf(cookie));
    const changed = `${NEW_PASSWORD} changed`;
    secrets.push(changed);
    await gql(app, CHANGE_PASSWORD, { currentPassword: PASSWORD, newPassword: changed }, { cookie });
    answers.push((await gql(app, SECURITY_EVENTS_LIMITED, { limit: 100 }, { cookie })).response.body);
    await gql(app, LOGOUT_EVERYWHERE, {}, { cookie });

    const users = await rows<{ hashed_password: string }>(app, 'select hashed_password from users');
    secrets.push(...tokens, ...tokens.map(sha256), ...users.map((user) => user.hashed_password));

    await app.settled();
    const stored = await rows<Record<string, string | number | null>>(app, 'select * from security_events');
    expect([...new Set(stored.map((row) => row.type))].sort()).toEqual([
      'LOGGED_OUT',
      'LOGGED_OUT_EVERYWHERE',
      'LOGIN_FAILED',
      'LOGIN_SUCCEEDED',
      'PASSWORD_CHANGED',
      'PASSWORD_RESET_COMPLETED',
      'PASSWORD_RESET_REQUESTED',
      'RATE_LIMITED',
      'REGISTERED',
      'SESSION_REVOKED',
    ]);
    for (const row of stored) {
      expect(Object.keys(row).sort()).toEqual([
        'count',
        'created_at',
        'email',
        'id',
        'ip',
        'reason',
        'type',
        'user_agent',
        'user_id',
      ]);
      for (const value of Object.values(row)) {
        if (value === null) continue;
        const text = String(value);
        for (const secret of secrets) expect(text).not.toContain(secret);
        expect(text).not.toMatch(SHA256_HEX_RUN);
        expect(text).not.toMatch(BCRYPT_HASH);
        expect(text).not.toMatch(TOKEN_RUN);
      }
    }
    // Nor does any securityEvents answer carry one.
    for (const body of answers) {
      for (const secret of secrets) expect(body).not.toContain(secret);
      expect(body).not.toMatch(SHA256_HEX_RUN);
      expect(body).not.toMatch(BCRYPT_HASH);
    }
  });
});

describe('RATE_LIMITED (limits on, a fresh app per test)', () => {
  const openApps: TestApp[] = [];

  /** A fresh app with the limits on and `env` on top; closed after the test. */
  async function limitedApp(env: Record<string, string>): Promise<TestApp> {
    const app = await createTestApp({ RATE_LIMIT: 'on', ...env });
    openApps.push(app);
    return app;
  }

  afterEach(async () => {
    await Promise.all(openApps.splice(0).map((app) => app.close()));
  });

  it.each(TRANSPORTS)(
    '%s: a login refused by the limit records RATE_LIMITED with reason LOGIN',
    async (transport) => {
      const app = await limitedApp({ RATE_LIMIT_LOGIN_PER_IP: '1/1h' });
      const email = await registeredUser(app);
      await signIn(app, transport, email, LAPTOP);
      const events = await eventsDuring(app, async () => {
        expect((await login(app, transport, sloppy(email), PASSWORD, LAPTOP)).refusal).toBe(
          refusal(transport, 'RATE_LIMITED'),
        );
      });
      expect(events).toEqual([
        // The account is named once the window's tally is written, so its owner sees the refusal too.
        expectedEvent(app, LAPTOP, 'RATE_LIMITED', {
          userId: await userIdOf(app, email),
          email,
          reason: 'LOGIN',
        }),
      ]);
    },
  );

  it.each(TRANSPORTS)(
    '%s: a refused registration records RATE_LIMITED with reason REGISTER',
    async (transport) => {
      const app = await limitedApp({ RATE_LIMIT_REGISTER_PER_IP: '1/1h' });
      expect((await register(app, transport, uniqueEmail(), PHONE)).refusal).toBeNull();
      const email = uniqueEmail();
      const events = await eventsDuring(app, async () => {
        expect((await register(app, transport, sloppy(email), PHONE)).refusal).toBe(
          refusal(transport, 'RATE_LIMITED'),
        );
      });
      expect(events).toEqual([
        expectedEvent(app, PHONE, 'RATE_LIMITED', { userId: null, email, reason: 'REGISTER' }),
      ]);
    },
  );

  it.each(TRANSPORTS)(
    '%s: a refused reset request records RATE_LIMITED with reason RESET_REQUEST',
    async (transport) => {
      const app = await limitedApp({ RATE_LIMIT_RESET_PER_IP: '1/1h' });
      const email = await registeredUser(app);
      expect((await requestReset(app, transport, email, LAPTOP)).refusal).toBeNull();
      const events = await eventsDuring(app, async () => {
        expect((await requestReset(app, transport, sloppy(email), LAPTOP)).refusal).toBe(
          refusal(transport, 'RATE_LIMITED'),
        );
      });
      expect(events).toEqual([
        expectedEvent(app, LAPTOP, 'RATE_LIMITED', {
          userId: await userIdOf(app, email),
          email,
          reason: 'RESET_REQUEST',
        }),
      ]);
    },
  );

  it('GraphQL: a refused changePassword records RATE_LIMITED with reason CHANGE_PASSWORD', async () => {
    const app = await limitedApp({ RATE_LIMIT_LOGIN_PER_IP: '1/1h' });
    const email = await registeredUser(app);
    const cookie = await signIn(app, 'REST', email, PHONE);
    let codes: (string | undefined)[] = [];
    const events = await eventsDuring(app, async () => {
      const answer = await gql(
        app,
        CHANGE_PASSWORD,
        { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
        { ...PHONE, cookie },
      );
      codes = errorCodes(answer);
    });
    expect(codes).toEqual(['RATE_LIMITED']);
    expect(events).toEqual([
      expectedEvent(app, PHONE, 'RATE_LIMITED', {
        userId: await userIdOf(app, email),
        email,
        reason: 'CHANGE_PASSWORD',
      }),
    ]);
  });
});

describe('retention', () => {
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

  /** The types and times of every stored event, oldest first. */
  async function storedTimeline(app: TestApp): Promise<{ type: string; createdAt: string }[]> {
    return (await eventRows(app)).map((row) => ({
      type: row.type,
      createdAt: new Date(row.created_at).toISOString(),
    }));
  }

  it('deletes events older than 90 days by default and keeps newer ones, which the owner still sees', async () => {
    const app = await freshApp();
    const email = uniqueEmail();
    await register(app, 'REST', email, LAPTOP);
    await signIn(app, 'REST', email, LAPTOP);
    app.clock.advanceSeconds(60 * SECONDS_PER_DAY);
    const keptAt = app.clock.now().toISOString();
    await signIn(app, 'GraphQL', email, PHONE);
    app.clock.advanceSeconds(30 * SECONDS_PER_DAY + 1);

    // Both sessions have expired by now too (7-day idle TTL).
    expect(await app.cleanup.runOnce()).toEqual({
      sessions: 2,
      resetTokens: 0,
      securityEvents: 2,
      failedMails: 0,
    });
    expect(await storedTimeline(app)).toEqual([{ type: 'LOGIN_SUCCEEDED', createdAt: keptAt }]);

    const cookie = await signIn(app, 'REST', email, LAPTOP);
    expect((await securityEventsOf(app, cookie)).map(({ type, createdAt }) => ({ type, createdAt }))).toEqual(
      [
        { type: 'LOGIN_SUCCEEDED', createdAt: app.clock.now().toISOString() },
        { type: 'LOGIN_SUCCEEDED', createdAt: keptAt },
      ],
    );
  });

  it('keeps an event exactly 90 days old and deletes it a second later', async () => {
    const app = await freshApp();
    await registeredUser(app);
    app.clock.advanceSeconds(RETENTION_DAYS * SECONDS_PER_DAY);
    expect((await app.cleanup.runOnce()).securityEvents).toBe(0);
    expect(await eventRows(app)).toHaveLength(1);
    app.clock.advanceSeconds(1);
    expect((await app.cleanup.runOnce()).securityEvents).toBe(1);
    expect(await eventRows(app)).toEqual([]);
  });

  it.each([
    ['7', 7 * SECONDS_PER_DAY + 1, 1],
    ['7', 7 * SECONDS_PER_DAY - 1, 0],
    ['365', 91 * SECONDS_PER_DAY, 0],
    ['365', 365 * SECONDS_PER_DAY + 1, 1],
  ])(
    'with SECURITY_EVENT_RETENTION_DAYS=%s, an event %d seconds old: %d removed',
    async (days, ageSeconds, removed) => {
      const app = await freshApp({ SECURITY_EVENT_RETENTION_DAYS: days });
      await registeredUser(app);
      app.clock.advanceSeconds(ageSeconds);
      expect((await app.cleanup.runOnce()).securityEvents).toBe(removed);
      expect(await eventRows(app)).toHaveLength(1 - removed);
    },
  );

  it('with CLEANUP_BATCH_SIZE=2 removes all of 5 old events and counts each once', async () => {
    const app = await freshApp({ CLEANUP_BATCH_SIZE: '2' });
    for (let i = 0; i < 5; i += 1) await registeredUser(app);
    app.clock.advanceSeconds((RETENTION_DAYS + 1) * SECONDS_PER_DAY);
    const keptEmail = await registeredUser(app);

    expect(await app.cleanup.runOnce()).toEqual({
      sessions: 0,
      resetTokens: 0,
      securityEvents: 5,
      failedMails: 0,
    });
    expect((await eventRows(app)).map((row) => row.email)).toEqual([keptEmail]);
  });
});
