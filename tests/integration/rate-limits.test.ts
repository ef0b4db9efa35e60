// The brute-force and spam limits through the real app: every budget on both transports, shared, keyed and timed.
import type { LightMyRequestResponse } from 'fastify';
import type { LimitCounters } from '../../src/abuse';
import { ERROR_CATALOGUE } from '../../src/errors';
import { createTestApp, type TestApp } from '../helpers/test-app';
import {
  LOGIN,
  REGISTER,
  REQUEST_RESET,
  RESET,
  errorCodes,
  type GraphQLAnswer,
  type GraphQLErrorBody,
} from '../helpers/graphql';
import { setCookies } from '../helpers/http';
import { NEW_PASSWORD, PASSWORD, uniqueEmail } from '../helpers/factories';

/** The two ways into the abusable operations, which must share every budget. */
type Transport = 'REST' | 'GraphQL';
const TRANSPORTS: readonly Transport[] = ['REST', 'GraphQL'];

/** How one call ended, in terms both transports share: `OK`, or an error code with its retry wait if any. */
interface Outcome {
  readonly code: string;
  readonly retryAfterSeconds?: number;
}

const OK: Outcome = { code: 'OK' };
const INVALID_CREDENTIALS: Outcome = { code: 'INVALID_CREDENTIALS' };
const RATE_LIMITED_BODY = '{"message":"too many attempts, try again later"}';
const WRONG_PASSWORD = 'not the password 1';

/** A refusal by the limits, with the wait the client is told. */
function limited(retryAfterSeconds: number): Outcome {
  return { code: 'RATE_LIMITED', retryAfterSeconds };
}

/** Where a request comes from: the socket's address and, optionally, an X-Forwarded-For header. */
interface From {
  readonly ip?: string;
  readonly forwardedFor?: string;
}

/** The socket address of requests that do not name one. */
const CLIENT = '203.0.113.10';
/** Another client, in another network. */
const OTHER_CLIENT = '198.51.100.20';

/** Every counter at zero: tests spread over it the ones they expect to have moved. */
const NO_COUNTS: LimitCounters = {
  loginPerIp: 0,
  loginFailures: 0,
  loginBackoffSeconds: 0,
  registerPerIp: 0,
  resetRequestPerIp: 0,
  resetRequestPerAccountAndIp: 0,
  resetRequestPerAccount: 0,
};

/** Where Date stands at the start of every test; only the tests about time move it. */
const START = new Date('2030-01-01T00:00:00.000Z');

/**
 * Fakes Date and nothing else, frozen at START: the limiter's memory store reads expiry from Date.now(), so a
 * frozen clock makes every Retry-After exact and lets a test jump over a window. Real timers keep running (the
 * store's own clean-up timers and the app's close are real-time and far longer than a test).
 */
function freezeDate(): void {
  jest.useFakeTimers({
    doNotFake: [
      'hrtime',
      'nextTick',
      'performance',
      'queueMicrotask',
      'requestAnimationFrame',
      'cancelAnimationFrame',
      'requestIdleCallback',
      'cancelIdleCallback',
      'setImmediate',
      'clearImmediate',
      'setInterval',
      'clearInterval',
      'setTimeout',
      'clearTimeout',
    ],
  });
  jest.setSystemTime(START);
}

/** Moves the frozen Date forward. */
function advanceMs(ms: number): void {
  jest.setSystemTime(Date.now() + ms);
}

const openApps: TestApp[] = [];

/** A fresh app (fresh counters) with the limits on; `env` overrides any variable. Closed after the test. */
async function limitedApp(env: Record<string, string> = {}): Promise<TestApp> {
  const app = await createTestApp({ RATE_LIMIT: 'on', ...env });
  openApps.push(app);
  return app;
}

beforeEach(() => {
  freezeDate();
});
afterEach(async () => {
  await Promise.all(openApps.splice(0).map((app) => app.close()));
  jest.useRealTimers();
});

/** A JSON request from the given client, through app.inject. */
function request(
  app: TestApp,
  method: 'POST' | 'PUT',
  url: string,
  body: unknown,
  from: From,
): Promise<LightMyRequestResponse> {
  return app.server.inject({
    method,
    url,
    payload: JSON.stringify(body),
    remoteAddress: from.ip ?? CLIENT,
    headers: {
      'content-type': 'application/json',
      ...(from.forwardedFor === undefined ? {} : { 'x-forwarded-for': from.forwardedFor }),
    },
  });
}

/** One GraphQL operation from the given client (tests/helpers/graphql.ts cannot choose the address). */
async function gql<T = Record<string, unknown>>(
  app: TestApp,
  query: string,
  variables: Record<string, unknown>,
  from: From = {},
): Promise<GraphQLAnswer<T>> {
  const response = await request(app, 'POST', '/graphql', { query, variables }, from);
  const body = response.json<{ data?: T | null; errors?: GraphQLErrorBody[] }>();
  return { response, data: body.data, errors: body.errors };
}

/** The catalogue code of a REST error answer, from its status and message. */
function restErrorCode(status: number, message: string): string {
  const entry = Object.entries(ERROR_CATALOGUE).find(
    ([, error]) => error.status === status && error.message === message && status < 500,
  );
  if (entry !== undefined) return entry[0];
  // Input errors carry a message naming the problem instead of the catalogue's.
  if (status === 400) return 'BAD_USER_INPUT';
  throw new Error(`unexpected REST answer: ${status} ${message}`);
}

/**
 * A REST answer as an Outcome. A refusal by the limits must be exactly 429, a whole-seconds Retry-After and the
 * catalogue body; no other answer may carry Retry-After.
 */
function restOutcome(response: LightMyRequestResponse): Outcome {
  if (response.statusCode === 200) return OK;
  const code = restErrorCode(response.statusCode, response.json<{ message: string }>().message);
  const retryAfter = response.headers['retry-after'];
  if (code !== 'RATE_LIMITED') {
    expect(retryAfter).toBeUndefined();
    return { code };
  }
  expect(response.statusCode).toBe(429);
  expect(response.body).toBe(RATE_LIMITED_BODY);
  expect(String(retryAfter)).toMatch(/^[1-9]\d*$/);
  return { code, retryAfterSeconds: Number(retryAfter) };
}

/**
 * A GraphQL answer to a one-field operation as an Outcome. A failure must be HTTP 200 with data null and one
 * error at the field's path whose extensions are exactly `code` (and `retryAfterSeconds` for RATE_LIMITED).
 */
function graphqlOutcome(answer: GraphQLAnswer<Record<string, unknown>>, field: string): Outcome {
  expect(answer.response.statusCode).toBe(200);
  if (answer.errors === undefined) {
    expect(answer.data?.[field]).toBeTruthy();
    return OK;
  }
  expect(answer.data).toBeNull();
  expect(answer.errors).toHaveLength(1);
  const [error] = answer.errors;
  expect(error.path).toEqual([field]);
  const extensions = error.extensions ?? {};
  const code = String(extensions.code);
  if (code !== 'RATE_LIMITED') {
    expect(Object.keys(extensions)).toEqual(['code']);
    return { code };
  }
  expect(error.message).toBe(ERROR_CATALOGUE.RATE_LIMITED.message);
  expect(Object.keys(extensions).sort()).toEqual(['code', 'retryAfterSeconds']);
  expect(Number.isInteger(extensions.retryAfterSeconds)).toBe(true);
  return { code, retryAfterSeconds: Number(extensions.retryAfterSeconds) };
}

/** Registers `email` with PASSWORD through one transport. */
async function register(app: TestApp, via: Transport, email: string, from: From = {}): Promise<Outcome> {
  if (via === 'REST') {
    return restOutcome(await request(app, 'POST', '/users', { email, password: PASSWORD }, from));
  }
  return graphqlOutcome(await gql(app, REGISTER, { email, password: PASSWORD }, from), 'register');
}

/** Logs in through one transport. */
async function login(
  app: TestApp,
  via: Transport,
  email: string,
  password: string,
  from: From = {},
): Promise<Outcome> {
  if (via === 'REST') {
    return restOutcome(await request(app, 'POST', '/sessions', { email, password }, from));
  }
  return graphqlOutcome(await gql(app, LOGIN, { email, password }, from), 'login');
}

/** Asks for a password reset token through one transport. */
async function requestReset(app: TestApp, via: Transport, email: string, from: From = {}): Promise<Outcome> {
  if (via === 'REST') return restOutcome(await request(app, 'POST', '/reset_password', { email }, from));
  return graphqlOutcome(await gql(app, REQUEST_RESET, { email }, from), 'requestPasswordReset');
}

/** A reset token for `email`, asked for through one transport; fails the test if none is issued. */
async function resetTokenFor(app: TestApp, via: Transport, email: string): Promise<string> {
  if (via === 'REST') {
    const response = await request(app, 'POST', '/reset_password', { email }, {});
    expect(response.statusCode).toBe(200);
    return response.json<{ reset_token: string }>().reset_token;
  }
  const answer = await gql<{ requestPasswordReset: { resetToken: string } }>(app, REQUEST_RESET, { email });
  expect(answer.errors).toBeUndefined();
  return answer.data?.requestPasswordReset.resetToken ?? '';
}

/** Sets a new password with a reset token through one transport (PUT /reset_password or resetPassword). */
async function resetPassword(
  app: TestApp,
  via: Transport,
  email: string,
  resetToken: string,
  newPassword: string,
): Promise<Outcome> {
  if (via === 'REST') {
    const body = { email, reset_token: resetToken, new_password: newPassword };
    return restOutcome(await request(app, 'PUT', '/reset_password', body, {}));
  }
  return graphqlOutcome(await gql(app, RESET, { email, resetToken, newPassword }), 'resetPassword');
}

/** Runs `count` calls one after another, never at once, and returns their outcomes in order. */
async function inSequence(count: number, call: (index: number) => Promise<Outcome>): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (let index = 0; index < count; index += 1) outcomes.push(await call(index));
  return outcomes;
}

/** `count` copies of one outcome. */
function times(count: number, outcome: Outcome): Outcome[] {
  return Array.from({ length: count }, () => outcome);
}

/** REST for even indexes, GraphQL for odd ones: a sequence that uses both transports. */
function alternating(index: number): Transport {
  return index % 2 === 0 ? 'REST' : 'GraphQL';
}

/** An account with PASSWORD, created through the service so that no registration budget is spent on it. */
async function account(app: TestApp): Promise<string> {
  const email = uniqueEmail('limited');
  await app.accounts.registerUser(email, PASSWORD);
  return email;
}

/** Letters used as aliases, in execution order. */
const ALIASES = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];

/**
 * One mutation operation running `field` once per alias (a, b, c, ...), alias i taking $email<i> (and
 * $password<i> for login and register).
 */
function aliasedMutation(field: 'login' | 'register' | 'requestPasswordReset', count: number): string {
  const aliases = ALIASES.slice(0, count);
  const withPassword = field !== 'requestPasswordReset';
  const declarations = aliases
    .map((_alias, i) => `$email${i}: String!${withPassword ? `, $password${i}: String!` : ''}`)
    .join(', ');
  const selections = aliases
    .map((alias, i) =>
      withPassword
        ? `${alias}: ${field}(email: $email${i}, password: $password${i}) { email }`
        : `${alias}: ${field}(email: $email${i}) { email }`,
    )
    .join('\n  ');
  return `mutation Aliased(${declarations}) {\n  ${selections}\n}`;
}

/** Variables for aliasedMutation: $email<i> (and $password<i>) for each alias. */
function aliasVariables(emails: readonly string[], password?: string): Record<string, string> {
  return Object.fromEntries(
    emails.flatMap((email, i) => [
      [`email${i}`, email],
      ...(password === undefined ? [] : [[`password${i}`, password]]),
    ]),
  ) as Record<string, string>;
}

/** Each error of an aliased operation as [alias, extensions]. */
function errorsByAlias(answer: GraphQLAnswer<unknown>): [string | undefined, unknown][] {
  return (answer.errors ?? []).map((error) => [error.path?.[0], error.extensions]);
}

describe('the refusal each transport gives', () => {
  it('REST: 429, Retry-After in whole seconds and {"message":"too many attempts, try again later"}', async () => {
    const app = await limitedApp();
    expect(await inSequence(5, () => register(app, 'REST', uniqueEmail()))).toEqual(times(5, OK));
    const response = await request(app, 'POST', '/users', { email: uniqueEmail(), password: PASSWORD }, {});
    expect(response.statusCode).toBe(429);
    expect(response.headers['retry-after']).toBe('600');
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(response.body).toBe(RATE_LIMITED_BODY);
  });

  it('GraphQL: HTTP 200, data null and one RATE_LIMITED error with retryAfterSeconds', async () => {
    const app = await limitedApp();
    expect(await inSequence(5, () => register(app, 'GraphQL', uniqueEmail()))).toEqual(times(5, OK));
    const answer = await gql(app, REGISTER, { email: uniqueEmail(), password: PASSWORD });
    expect(answer.response.statusCode).toBe(200);
    expect(answer.response.headers['retry-after']).toBeUndefined();
    expect(answer.response.json()).toEqual({
      errors: [
        {
          message: 'too many attempts, try again later',
          locations: [{ line: 2, column: 3 }],
          path: ['register'],
          extensions: { code: 'RATE_LIMITED', retryAfterSeconds: 600 },
        },
      ],
      data: null,
    });
  });
});

describe('registration: 5 per 10 minutes per client network', () => {
  it.each(TRANSPORTS)(
    '%s: registrations 1 to 5 succeed; the 6th is refused for 600 s and creates no account',
    async (via) => {
      const app = await limitedApp();
      const emails = Array.from({ length: 6 }, () => uniqueEmail());
      const outcomes = await inSequence(6, (i) => register(app, via, emails[i]));
      expect(outcomes).toEqual([...times(5, OK), limited(600)]);
      expect(await app.accounts.validLogin(emails[4], PASSWORD)).toBe(true);
      expect(await app.accounts.validLogin(emails[5], PASSWORD)).toBe(false);
      expect(await app.limits.counters(CLIENT, emails[5])).toEqual({ ...NO_COUNTS, registerPerIp: 6 });
    },
  );

  it.each(TRANSPORTS)('%s: another client network still registers', async (via) => {
    const app = await limitedApp();
    await inSequence(6, () => register(app, via, uniqueEmail()));
    expect(await register(app, via, uniqueEmail(), { ip: OTHER_CLIENT })).toEqual(OK);
  });

  it('REST and GraphQL share one budget: 3 REST and 2 GraphQL use it up, then both refuse', async () => {
    const app = await limitedApp();
    const viaRest = await inSequence(3, () => register(app, 'REST', uniqueEmail()));
    const viaGraphQL = await inSequence(2, () => register(app, 'GraphQL', uniqueEmail()));
    expect([...viaRest, ...viaGraphQL]).toEqual(times(5, OK));
    expect(await register(app, 'REST', uniqueEmail())).toEqual(limited(600));
    expect(await register(app, 'GraphQL', uniqueEmail())).toEqual(limited(600));
  });

  it('counts registrations that fail (taken email, malformed email) against the budget', async () => {
    const app = await limitedApp();
    const taken = await account(app);
    const outcomes = [
      await register(app, 'REST', taken),
      await register(app, 'GraphQL', taken),
      await register(app, 'REST', 'no-at-sign'),
      await register(app, 'GraphQL', 'no-at-sign'),
      await register(app, 'REST', uniqueEmail()),
      await register(app, 'GraphQL', uniqueEmail()),
    ];
    expect(outcomes).toEqual([
      { code: 'EMAIL_TAKEN' },
      { code: 'EMAIL_TAKEN' },
      { code: 'BAD_USER_INPUT' },
      { code: 'BAD_USER_INPUT' },
      OK,
      limited(600),
    ]);
  });

  it('counts Retry-After down and gives a new budget when the 10 minutes are over', async () => {
    const app = await limitedApp();
    await inSequence(5, (i) => register(app, alternating(i), uniqueEmail()));
    advanceMs(300_000);
    expect(await register(app, 'REST', uniqueEmail())).toEqual(limited(300));
    advanceMs(299_500);
    expect(await register(app, 'GraphQL', uniqueEmail())).toEqual(limited(1));
    advanceMs(500);
    expect(await register(app, 'GraphQL', uniqueEmail())).toEqual(OK);
    expect(await app.limits.counters(CLIENT, '')).toEqual({ ...NO_COUNTS, registerPerIp: 1 });
  });
});

describe('password-reset requests: 3 a minute per client network, 3 an hour per account and network, 10 an hour per account', () => {
  it.each(TRANSPORTS)(
    '%s: the 4th request from one client network is refused for 60 s, whichever accounts it names',
    async (via) => {
      const app = await limitedApp();
      const emails = [await account(app), await account(app), await account(app), await account(app)];
      const outcomes = await inSequence(4, (i) => requestReset(app, via, emails[i]));
      expect(outcomes).toEqual([OK, OK, OK, limited(60)]);
      // Refused by the client's budget before the account's is touched.
      expect(await app.limits.counters(CLIENT, emails[3])).toEqual({ ...NO_COUNTS, resetRequestPerIp: 4 });
      expect(await requestReset(app, via, emails[3], { ip: OTHER_CLIENT })).toEqual(OK);
    },
  );

  it.each(TRANSPORTS)(
    '%s: a stranger gets 3 an hour for one account, and the owner from another network is still served',
    async (via) => {
      const app = await limitedApp();
      const email = await account(app);
      const stranger = { ip: '192.0.2.1' };
      const spellings = [email, email.toUpperCase(), ` ${email} `];
      expect(await inSequence(3, (i) => requestReset(app, via, spellings[i], stranger))).toEqual(
        times(3, OK),
      );
      // A minute on, the stranger's client budget is back but not its budget for this account.
      advanceMs(60_000);
      expect(await requestReset(app, via, email, stranger)).toEqual(limited(3540));
      expect(await app.limits.counters(stranger.ip, email)).toEqual({
        ...NO_COUNTS,
        resetRequestPerIp: 1,
        resetRequestPerAccountAndIp: 4,
        // Refused before the account's own cap: a stranger's refused requests cost the owner nothing.
        resetRequestPerAccount: 3,
      });
      expect(await requestReset(app, via, email, { ip: OTHER_CLIENT })).toEqual(OK);
    },
  );

  it.each(TRANSPORTS)(
    '%s: the 11th request for one account within an hour is refused, whichever networks sent them',
    async (via) => {
      const app = await limitedApp();
      const email = await account(app);
      const ip = (i: number): string => `192.0.2.${i + 1}`;
      const outcomes = await inSequence(11, (i) => requestReset(app, via, email, { ip: ip(i) }));
      expect(outcomes).toEqual([...times(10, OK), limited(3600)]);
      expect(await app.limits.counters(ip(10), email)).toEqual({
        ...NO_COUNTS,
        resetRequestPerIp: 1,
        resetRequestPerAccountAndIp: 1,
        resetRequestPerAccount: 11,
      });
    },
  );

  it('counts one IPv6 /64 as one network for the per-account budget', async () => {
    const app = await limitedApp();
    const email = await account(app);
    const outcomes = await inSequence(4, (i) =>
      requestReset(app, alternating(i), email, { ip: `2001:db8:1:2::${i + 1}` }),
    );
    expect(outcomes).toEqual([OK, OK, OK, limited(60)]);
    advanceMs(60_000);
    expect(await requestReset(app, 'REST', email, { ip: '2001:db8:1:2::99' })).toEqual(limited(3540));
    expect(await requestReset(app, 'REST', email, { ip: '2001:db8:1:3::1' })).toEqual(OK);
  });

  it('REST and GraphQL share the per-client budget: 2 REST and 1 GraphQL, then both refuse', async () => {
    const app = await limitedApp();
    const emails = [await account(app), await account(app), await account(app)];
    const outcomes = [
      await requestReset(app, 'REST', emails[0]),
      await requestReset(app, 'REST', emails[1]),
      await requestReset(app, 'GraphQL', emails[2]),
      await requestReset(app, 'REST', await account(app)),
      await requestReset(app, 'GraphQL', await account(app)),
    ];
    expect(outcomes).toEqual([OK, OK, OK, limited(60), limited(60)]);
  });

  it('REST and GraphQL share the per-account budget: 5 REST and 5 GraphQL, then both refuse', async () => {
    const app = await limitedApp();
    const email = await account(app);
    const outcomes = await inSequence(12, (i) =>
      requestReset(app, alternating(i), email, { ip: `192.0.2.${i + 1}` }),
    );
    expect(outcomes).toEqual([...times(10, OK), limited(3600), limited(3600)]);
  });

  it('REST and GraphQL share the per-account-and-network budget: 2 REST and 1 GraphQL, then both refuse', async () => {
    const app = await limitedApp({ RATE_LIMIT_RESET_PER_IP: '100/1m' });
    const email = await account(app);
    const vias: Transport[] = ['REST', 'GraphQL', 'REST', 'GraphQL', 'REST'];
    const outcomes = await inSequence(5, (i) => requestReset(app, vias[i], email));
    expect(outcomes).toEqual([OK, OK, OK, limited(3600), limited(3600)]);
  });

  it.each(TRANSPORTS)(
    '%s: counts requests for unregistered and malformed emails per client network',
    async (via) => {
      const app = await limitedApp();
      const outcomes = [
        await requestReset(app, via, uniqueEmail('nobody')),
        await requestReset(app, via, 'not an email'),
        await requestReset(app, via, '@'),
        await requestReset(app, via, 'not an email'),
      ];
      expect(outcomes).toEqual([
        { code: 'EMAIL_NOT_REGISTERED' },
        { code: 'BAD_USER_INPUT' },
        { code: 'BAD_USER_INPUT' },
        limited(60),
      ]);
    },
  );

  it('renews the per-client budget after a minute and the per-account budgets after an hour', async () => {
    const app = await limitedApp({ RATE_LIMIT_RESET_PER_ACCOUNT: '4/1h' });
    const email = await account(app);
    expect(await inSequence(3, (i) => requestReset(app, alternating(i), email))).toEqual(times(3, OK));
    expect(await requestReset(app, 'REST', await account(app))).toEqual(limited(60));
    advanceMs(59_001);
    expect(await requestReset(app, 'GraphQL', await account(app))).toEqual(limited(1));
    advanceMs(999);
    expect(await requestReset(app, 'GraphQL', await account(app))).toEqual(OK);
    // This network's budget for the account is spent; another network has the account's last one.
    expect(await requestReset(app, 'REST', email)).toEqual(limited(3540));
    expect(await requestReset(app, 'GraphQL', email, { ip: OTHER_CLIENT })).toEqual(OK);
    expect(await requestReset(app, 'GraphQL', email, { ip: '192.0.2.77' })).toEqual(limited(3540));
    advanceMs(3_539_000);
    expect(await requestReset(app, 'GraphQL', email, { ip: '192.0.2.77' })).toEqual(limited(1));
    advanceMs(1_000);
    expect(await requestReset(app, 'REST', email)).toEqual(OK);
  });
});

describe('login: 30 a minute per client network', () => {
  it.each(TRANSPORTS)(
    '%s: 30 logins for 30 emails are answered; the 31st is refused for 60 s even with the right password',
    async (via) => {
      const app = await limitedApp();
      const email = await account(app);
      const guesses = await inSequence(30, () => login(app, via, uniqueEmail('guess'), WRONG_PASSWORD));
      expect(guesses).toEqual(times(30, INVALID_CREDENTIALS));
      expect(await login(app, via, email, PASSWORD)).toEqual(limited(60));
      expect(await app.limits.counters(CLIENT, email)).toEqual({ ...NO_COUNTS, loginPerIp: 31 });
      expect(await login(app, via, email, PASSWORD, { ip: OTHER_CLIENT })).toEqual(OK);
    },
  );

  it('REST and GraphQL share one budget: 15 REST and 15 GraphQL, then both refuse', async () => {
    const app = await limitedApp();
    const email = await account(app);
    const guesses = await inSequence(30, (i) =>
      login(app, alternating(i), uniqueEmail('guess'), WRONG_PASSWORD),
    );
    expect(guesses).toEqual(times(30, INVALID_CREDENTIALS));
    expect(await login(app, 'REST', email, PASSWORD)).toEqual(limited(60));
    expect(await login(app, 'GraphQL', email, PASSWORD)).toEqual(limited(60));
  });

  it.each(TRANSPORTS)(
    '%s: limits emails no account can have (malformed) per client network as well',
    async (via) => {
      const app = await limitedApp();
      const malformed = ['not an email', '@', 'a@b@c', 'x'.repeat(300)];
      const outcomes = await inSequence(31, (i) =>
        login(app, via, malformed[i % malformed.length], WRONG_PASSWORD),
      );
      expect(outcomes).toEqual([...times(30, INVALID_CREDENTIALS), limited(60)]);
      expect(await app.limits.counters(CLIENT, 'not an email')).toEqual({ ...NO_COUNTS, loginPerIp: 31 });
    },
  );

  it('renews the budget after a minute', async () => {
    const app = await limitedApp();
    const email = await account(app);
    await inSequence(30, (i) => login(app, alternating(i), uniqueEmail('guess'), WRONG_PASSWORD));
    advanceMs(59_000);
    expect(await login(app, 'REST', email, PASSWORD)).toEqual(limited(1));
    advanceMs(1_000);
    expect(await login(app, 'GraphQL', email, PASSWORD)).toEqual(OK);
  });
});

describe('in-process counters (SQLite): bounded by RATE_LIMIT_MEMORY_MAX_KEYS', () => {
  // On SQLite always: that is where the counters live in memory (PostgreSQL keeps them in its table).
  // 400 in all: 200 for networks and 200 for accounts, each 100 fresh and 100 held.
  const bounded = (): Promise<TestApp> =>
    limitedApp({
      DATABASE_URL: ':memory:',
      RATE_LIMIT_MEMORY_MAX_KEYS: '400',
      RATE_LIMIT_LOGIN_PER_IP: '100000/1m',
      RATE_LIMIT_REGISTER_PER_IP: '1/1m',
    });

  it('a spray of made-up emails never erases an account’s failures or its back-off', async () => {
    const app = await bounded();
    const email = await account(app);
    await inSequence(5, () => login(app, 'REST', email, WRONG_PASSWORD));
    expect(await app.limits.counters(CLIENT, email)).toMatchObject({
      loginFailures: 5,
      loginBackoffSeconds: 1,
    });
    // 300 more emails, each tried once (three times the fresh half): one-off counters only push out one-off ones.
    const spray = await inSequence(300, () => login(app, 'REST', uniqueEmail('spray'), WRONG_PASSWORD));
    expect(spray).toEqual(times(300, INVALID_CREDENTIALS));
    expect(await app.limits.counters(CLIENT, email)).toMatchObject({
      loginFailures: 5,
      loginBackoffSeconds: 1,
    });
    expect(await login(app, 'REST', email, WRONG_PASSWORD)).toEqual(limited(1));
  });

  it('a spray of networks with malformed registrations never erases an account’s counters', async () => {
    const app = await bounded();
    const email = await account(app);
    await inSequence(2, () => login(app, 'REST', email, WRONG_PASSWORD));
    await inSequence(2, () => requestReset(app, 'REST', email));
    // Each /64 of 1,000 spends its registration budget twice on an email no account can have: two counts on each
    // of 1,000 network keys, far past the whole cap, and all in the networks' family.
    for (let i = 0; i < 1000; i += 1) {
      const ip = `2001:db8:${(i >> 8).toString(16)}:${(i & 0xff).toString(16)}::1`;
      await request(app, 'POST', '/users', { email: 'not an email', password: PASSWORD }, { ip });
      await request(app, 'POST', '/users', { email: 'not an email', password: PASSWORD }, { ip });
    }
    expect(await app.limits.counters(CLIENT, email)).toMatchObject({
      loginFailures: 2,
      resetRequestPerAccountAndIp: 2,
      resetRequestPerAccount: 2,
    });
  });

  it('holds at most that many counters: what it forgets is one-off keys, and forgetting never refuses anyone', async () => {
    const app = await bounded();
    const email = await account(app);
    await login(app, 'REST', email, WRONG_PASSWORD);
    // An account seen once is a one-off key like any other: 150 newer ones push it out of the fresh half.
    await inSequence(150, () => login(app, 'REST', uniqueEmail('spray'), WRONG_PASSWORD));
    expect((await app.limits.counters(CLIENT, email)).loginFailures).toBe(0);
    expect(await login(app, 'REST', email, PASSWORD)).toEqual(OK);
  });
});

describe('login back-off per account', () => {
  it.each(TRANSPORTS)(
    '%s: the 5th failure starts a 1 s back-off; an attempt during it is refused and not counted',
    async (via) => {
      const app = await limitedApp();
      const email = await account(app);
      expect(await inSequence(4, () => login(app, via, email, WRONG_PASSWORD))).toEqual(
        times(4, INVALID_CREDENTIALS),
      );
      expect(await app.limits.counters(CLIENT, email)).toEqual({
        ...NO_COUNTS,
        loginPerIp: 4,
        loginFailures: 4,
      });
      expect(await login(app, via, email, WRONG_PASSWORD)).toEqual(INVALID_CREDENTIALS);
      expect(await app.limits.counters(CLIENT, email)).toEqual({
        ...NO_COUNTS,
        loginPerIp: 5,
        loginFailures: 5,
        loginBackoffSeconds: 1,
      });
      expect(await login(app, via, email, WRONG_PASSWORD)).toEqual(limited(1));
      expect(await login(app, via, email, WRONG_PASSWORD)).toEqual(limited(1));
      expect(await app.limits.counters(CLIENT, email)).toEqual({
        ...NO_COUNTS,
        loginPerIp: 7,
        loginFailures: 5,
        loginBackoffSeconds: 1,
      });
    },
  );

  it.each(TRANSPORTS)(
    '%s: a 5th attempt refused as SERVICE_BUSY neither counts as a failure nor leaves a back-off',
    async (via) => {
      const app = await limitedApp({ BCRYPT_MAX_CONCURRENCY: '1', BCRYPT_MAX_QUEUE: '0' });
      const email = await account(app);
      await inSequence(4, () => login(app, via, email, WRONG_PASSWORD));
      let release = (): void => undefined;
      const held = app.passwords.admission.run(() => new Promise<void>((resolve) => (release = resolve)));
      if (via === 'REST') {
        const response = await request(app, 'POST', '/sessions', { email, password: WRONG_PASSWORD }, {});
        expect([response.statusCode, response.headers['retry-after']]).toEqual([503, '1']);
      } else {
        const answer = await gql(app, LOGIN, { email, password: WRONG_PASSWORD });
        expect(answer.errors?.[0]?.extensions).toEqual({ code: 'SERVICE_BUSY', retryAfterSeconds: 1 });
      }
      expect(await app.limits.counters(CLIENT, email)).toEqual({
        ...NO_COUNTS,
        loginPerIp: 5,
        loginFailures: 4,
      });
      release();
      await held;
      expect(await login(app, via, email, PASSWORD)).toEqual(OK);
    },
  );

  it.each(TRANSPORTS)(
    '%s: an attempt refused as SERVICE_BUSY after a back-off has ended does not start the next one',
    async (via) => {
      const app = await limitedApp({ BCRYPT_MAX_CONCURRENCY: '1', BCRYPT_MAX_QUEUE: '0' });
      const email = await account(app);
      await inSequence(5, () => login(app, via, email, WRONG_PASSWORD));
      advanceMs(1000);
      let release = (): void => undefined;
      const held = app.passwords.admission.run(() => new Promise<void>((resolve) => (release = resolve)));
      const busy =
        via === 'REST'
          ? (await request(app, 'POST', '/sessions', { email, password: WRONG_PASSWORD }, {})).statusCode
          : (await gql(app, LOGIN, { email, password: WRONG_PASSWORD })).errors?.[0]?.extensions?.code;
      expect(busy).toBe(via === 'REST' ? 503 : 'SERVICE_BUSY');
      expect(await app.limits.counters(CLIENT, email)).toEqual({
        ...NO_COUNTS,
        loginPerIp: 6,
        loginFailures: 5,
      });
      release();
      await held;
      expect(await login(app, via, email, PASSWORD)).toEqual(OK);
    },
  );

  it.each(TRANSPORTS)(
    '%s: refuses the right password while the back-off lasts, and starts no session',
    async (via) => {
      const app = await limitedApp();
      const email = await account(app);
      await inSequence(5, () => login(app, via, email, WRONG_PASSWORD));
      if (via === 'REST') {
        const response = await request(app, 'POST', '/sessions', { email, password: PASSWORD }, {});
        expect(setCookies(response)).toEqual([]);
        expect(restOutcome(response)).toEqual(limited(1));
      } else {
        const answer = await gql(app, LOGIN, { email, password: PASSWORD });
        expect(setCookies(answer.response)).toEqual([]);
        expect(graphqlOutcome(answer, 'login')).toEqual(limited(1));
      }
      expect(await app.limits.counters(CLIENT, email)).toEqual({
        ...NO_COUNTS,
        loginPerIp: 6,
        loginFailures: 5,
        loginBackoffSeconds: 1,
      });
    },
  );

  it('counts failures per normalised email, from any client network and either transport', async () => {
    const app = await limitedApp();
    const email = await account(app);
    const spellings = [email, email.toUpperCase(), `  ${email}`, `${email}\t`, email];
    const failures = await inSequence(5, (i) =>
      login(app, alternating(i), spellings[i], WRONG_PASSWORD, { ip: `192.0.2.${i + 1}` }),
    );
    expect(failures).toEqual(times(5, INVALID_CREDENTIALS));
    expect(await login(app, 'GraphQL', email, PASSWORD, { ip: OTHER_CLIENT })).toEqual(limited(1));
    expect(await login(app, 'REST', email.toUpperCase(), PASSWORD, { ip: OTHER_CLIENT })).toEqual(limited(1));
  });

  it('doubles the back-off (1, 2, 4, 8 s) up to RATE_LIMIT_LOGIN_BACKOFF_MAX_SECONDS; the right password then logs in', async () => {
    const app = await limitedApp({ RATE_LIMIT_LOGIN_BACKOFF_MAX_SECONDS: '8' });
    const email = await account(app);
    await inSequence(4, (i) => login(app, alternating(i), email, WRONG_PASSWORD));
    const seen: [number, Outcome, number, Outcome, Outcome][] = [];
    const expected: [number, Outcome, number, Outcome, Outcome][] = [];
    for (const [n, seconds] of [1, 2, 4, 8, 8, 8].entries()) {
      const failure = await login(app, alternating(n), email, WRONG_PASSWORD);
      const { loginBackoffSeconds } = await app.limits.counters(CLIENT, email);
      const rightPasswordAtOnce = await login(app, alternating(n + 1), email, PASSWORD);
      advanceMs(seconds * 1000 - 1);
      const oneMsBeforeTheEnd = await login(app, alternating(n), email, PASSWORD);
      advanceMs(1);
      seen.push([n + 5, failure, loginBackoffSeconds, rightPasswordAtOnce, oneMsBeforeTheEnd]);
      expected.push([n + 5, INVALID_CREDENTIALS, seconds, limited(seconds), limited(1)]);
    }
    expect(seen).toEqual(expected);
    expect(await login(app, 'GraphQL', email, PASSWORD)).toEqual(OK);
    expect(await app.limits.counters(CLIENT, email)).toEqual({ ...NO_COUNTS, loginPerIp: 23 });
  });

  it('caps the back-off at 300 s by default, and it still ends', async () => {
    const app = await limitedApp();
    const email = await account(app);
    await inSequence(4, () => login(app, 'REST', email, WRONG_PASSWORD));
    const backoffs: number[] = [];
    for (let failure = 5; failure <= 16; failure += 1) {
      expect(await login(app, 'GraphQL', email, WRONG_PASSWORD)).toEqual(INVALID_CREDENTIALS);
      const { loginBackoffSeconds } = await app.limits.counters(CLIENT, email);
      backoffs.push(loginBackoffSeconds);
      advanceMs(loginBackoffSeconds * 1000);
    }
    expect(backoffs).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
    expect(await login(app, 'REST', email, PASSWORD)).toEqual(OK);
  });

  it.each(TRANSPORTS)('%s: a successful login clears the count of failures', async (via) => {
    const app = await limitedApp();
    const email = await account(app);
    await inSequence(4, () => login(app, via, email, WRONG_PASSWORD));
    expect(await login(app, via, email, PASSWORD)).toEqual(OK);
    expect(await app.limits.counters(CLIENT, email)).toEqual({ ...NO_COUNTS, loginPerIp: 5 });
    // Four more failures would be the 9th in a row without the clearing, and the right password then refused.
    expect(await inSequence(4, () => login(app, via, email, WRONG_PASSWORD))).toEqual(
      times(4, INVALID_CREDENTIALS),
    );
    expect(await login(app, via, email, PASSWORD)).toEqual(OK);
  });

  it.each(TRANSPORTS)(
    '%s: a completed password reset ends the back-off at once; asking for a token does not',
    async (via) => {
      const app = await limitedApp({ RATE_LIMIT_LOGIN_BACKOFF_INITIAL_SECONDS: '60' });
      const email = await account(app);
      await inSequence(5, () => login(app, via, email, WRONG_PASSWORD));
      const resetToken = await resetTokenFor(app, via, email);
      expect(await app.limits.counters(CLIENT, email)).toEqual({
        ...NO_COUNTS,
        loginPerIp: 5,
        loginFailures: 5,
        loginBackoffSeconds: 60,
        resetRequestPerIp: 1,
        resetRequestPerAccountAndIp: 1,
        resetRequestPerAccount: 1,
      });
      expect(await login(app, via, email, PASSWORD)).toEqual(limited(60));
      expect(await resetPassword(app, via, email.toUpperCase(), resetToken, NEW_PASSWORD)).toEqual(OK);
      expect(await app.limits.counters(CLIENT, email)).toEqual({
        ...NO_COUNTS,
        loginPerIp: 6,
        resetRequestPerIp: 1,
        resetRequestPerAccountAndIp: 1,
        resetRequestPerAccount: 1,
      });
      expect(await login(app, via, email, NEW_PASSWORD)).toEqual(OK);
    },
  );
});

describe('GraphQL aliases', () => {
  it('counts each alias of register: six aliases create five accounts and the sixth is refused', async () => {
    const app = await limitedApp({ GRAPHQL_MAX_AUTH_MUTATIONS: '10' });
    const emails = Array.from({ length: 6 }, () => uniqueEmail());
    const answer = await gql(app, aliasedMutation('register', 6), aliasVariables(emails, PASSWORD));
    expect(answer.response.statusCode).toBe(200);
    expect(answer.data).toBeNull();
    expect(errorsByAlias(answer)).toEqual([['f', { code: 'RATE_LIMITED', retryAfterSeconds: 600 }]]);
    expect(await app.limits.counters(CLIENT, '')).toEqual({ ...NO_COUNTS, registerPerIp: 6 });
    const created = await Promise.all(emails.map((email) => app.accounts.validLogin(email, PASSWORD)));
    expect(created).toEqual([true, true, true, true, true, false]);
    expect(await register(app, 'REST', uniqueEmail())).toEqual(limited(600));
  });

  it('counts each alias of login against the client network', async () => {
    const app = await limitedApp({ GRAPHQL_MAX_AUTH_MUTATIONS: '10', RATE_LIMIT_LOGIN_PER_IP: '3/1m' });
    const email = await account(app);
    const variables = aliasVariables([email, email, email, email], PASSWORD);
    const answer = await gql(app, aliasedMutation('login', 4), variables);
    expect(answer.data).toBeNull();
    expect(errorsByAlias(answer)).toEqual([['d', { code: 'RATE_LIMITED', retryAfterSeconds: 60 }]]);
    expect(await app.limits.counters(CLIENT, email)).toEqual({ ...NO_COUNTS, loginPerIp: 4 });
  });

  it('counts each alias of requestPasswordReset against the client and the account', async () => {
    const app = await limitedApp({ GRAPHQL_MAX_AUTH_MUTATIONS: '10' });
    const email = await account(app);
    const answer = await gql(
      app,
      aliasedMutation('requestPasswordReset', 4),
      aliasVariables([email, email, email, email]),
    );
    expect(answer.data).toBeNull();
    expect(errorsByAlias(answer)).toEqual([['d', { code: 'RATE_LIMITED', retryAfterSeconds: 60 }]]);
    expect(await app.limits.counters(CLIENT, email)).toEqual({
      ...NO_COUNTS,
      resetRequestPerIp: 4,
      resetRequestPerAccountAndIp: 3,
      resetRequestPerAccount: 3,
    });
  });

  it('ends the operation at the first wrong-password alias: the later aliases never run, so are not counted', async () => {
    const app = await limitedApp({ GRAPHQL_MAX_AUTH_MUTATIONS: '10' });
    const email = await account(app);
    const query = aliasedMutation('login', 6);
    const variables = aliasVariables(
      Array.from({ length: 6 }, () => email),
      WRONG_PASSWORD,
    );
    const answers: [string | undefined, unknown][][] = [];
    for (let operation = 1; operation <= 6; operation += 1) {
      answers.push(errorsByAlias(await gql(app, query, variables)));
    }
    // graphql-js executes root mutations serially and stops when a non-null one fails: one attempt per operation.
    expect(answers).toEqual([
      ...Array.from({ length: 5 }, () => [['a', { code: 'INVALID_CREDENTIALS' }]]),
      [['a', { code: 'RATE_LIMITED', retryAfterSeconds: 1 }]],
    ]);
    expect(await app.limits.counters(CLIENT, email)).toEqual({
      ...NO_COUNTS,
      loginPerIp: 6,
      loginFailures: 5,
      loginBackoffSeconds: 1,
    });
  });

  it.each([
    ['login', 2],
    ['login', 6],
    ['register', 2],
    ['requestPasswordReset', 2],
  ] as const)(
    'with the default GRAPHQL_MAX_AUTH_MUTATIONS (1), refuses %s aliased %i times before anything runs',
    async (field, count) => {
      const app = await limitedApp();
      const email = await account(app);
      const emails = Array.from({ length: count }, () => email);
      const password = field === 'requestPasswordReset' ? undefined : WRONG_PASSWORD;
      const answer = await gql(app, aliasedMutation(field, count), aliasVariables(emails, password));
      expect(answer.response.statusCode).toBe(400);
      expect(errorCodes(answer)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
      expect(answer.errors?.[0].message).toBe(
        `"${field}" may run at most 1 time per operation; got ${count}`,
      );
      expect(answer.data).toBeUndefined();
      expect(await app.limits.counters(CLIENT, email)).toEqual(NO_COUNTS);
    },
  );
});

describe('which client a request counts against', () => {
  it('counts IPv6 clients per /64: addresses in one /64 share a budget, another /64 has its own', async () => {
    const app = await limitedApp();
    const sameNetwork = [
      '2001:db8:1:2::1',
      '2001:db8:1:2::2',
      '2001:db8:1:2:a:b:c:d',
      '2001:db8:1:2::',
      '2001:DB8:1:2::5',
    ];
    const outcomes = await inSequence(5, (i) =>
      register(app, alternating(i), uniqueEmail(), { ip: sameNetwork[i] }),
    );
    expect(outcomes).toEqual(times(5, OK));
    expect(await register(app, 'REST', uniqueEmail(), { ip: '2001:db8:1:2:ffff:ffff:ffff:ffff' })).toEqual(
      limited(600),
    );
    expect(await register(app, 'GraphQL', uniqueEmail(), { ip: '2001:db8:1:3::1' })).toEqual(OK);
    expect(await app.limits.counters('2001:db8:1:2::99', '')).toEqual({ ...NO_COUNTS, registerPerIp: 6 });
    expect(await app.limits.counters('2001:db8:1:3::99', '')).toEqual({ ...NO_COUNTS, registerPerIp: 1 });
  });

  it('counts ::ffff:1.2.3.4 and 1.2.3.4 as one client', async () => {
    const app = await limitedApp();
    const ips = ['::ffff:1.2.3.4', '1.2.3.4', '::ffff:1.2.3.4', '1.2.3.4', '::ffff:1.2.3.4'];
    const outcomes = await inSequence(5, (i) => register(app, alternating(i), uniqueEmail(), { ip: ips[i] }));
    expect(outcomes).toEqual(times(5, OK));
    expect(await register(app, 'REST', uniqueEmail(), { ip: '1.2.3.4' })).toEqual(limited(600));
    expect(await register(app, 'GraphQL', uniqueEmail(), { ip: '::ffff:1.2.3.4' })).toEqual(limited(600));
    expect(await register(app, 'GraphQL', uniqueEmail(), { ip: '1.2.3.5' })).toEqual(OK);
  });

  it.each(TRANSPORTS)('%s: ignores X-Forwarded-For without TRUST_PROXY', async (via) => {
    const app = await limitedApp();
    const socket = '10.0.0.1';
    const outcomes = await inSequence(6, (i) =>
      register(app, via, uniqueEmail(), { ip: socket, forwardedFor: `198.51.100.${i + 1}` }),
    );
    expect(outcomes).toEqual([...times(5, OK), limited(600)]);
    expect(await app.limits.counters(socket, '')).toEqual({ ...NO_COUNTS, registerPerIp: 6 });
    expect(await app.limits.counters('198.51.100.1', '')).toEqual(NO_COUNTS);
  });

  it.each(TRANSPORTS)(
    '%s: uses X-Forwarded-For from the proxy TRUST_PROXY names, and from no other socket',
    async (via) => {
      const app = await limitedApp({ TRUST_PROXY: '10.0.0.1' });
      const proxy = '10.0.0.1';
      const outcomes = await inSequence(6, () =>
        register(app, via, uniqueEmail(), { ip: proxy, forwardedFor: '198.51.100.7' }),
      );
      expect(outcomes).toEqual([...times(5, OK), limited(600)]);
      expect(await register(app, via, uniqueEmail(), { ip: proxy, forwardedFor: '198.51.100.8' })).toEqual(
        OK,
      );
      expect(
        await register(app, via, uniqueEmail(), { ip: '10.0.0.2', forwardedFor: '198.51.100.9' }),
      ).toEqual(OK);
      expect(await app.limits.counters('198.51.100.7', '')).toEqual({ ...NO_COUNTS, registerPerIp: 6 });
      expect(await app.limits.counters('198.51.100.8', '')).toEqual({ ...NO_COUNTS, registerPerIp: 1 });
      expect(await app.limits.counters('10.0.0.2', '')).toEqual({ ...NO_COUNTS, registerPerIp: 1 });
      expect(await app.limits.counters('198.51.100.9', '')).toEqual(NO_COUNTS);
      expect(await app.limits.counters(proxy, '')).toEqual(NO_COUNTS);
    },
  );
});

describe('RATE_LIMIT=off', () => {
  /** One pino line, as the app writes it. */
  interface LogLine {
    level: number;
    msg: string;
  }

  /** pino's number for the warn level. */
  const WARN_LEVEL = 40;

  /** The warnings an app wrote that mention RATE_LIMIT=off. */
  function rateLimitOffWarnings(app: TestApp): LogLine[] {
    return app.logLines
      .map((line) => JSON.parse(line) as LogLine)
      .filter((line) => line.msg.includes('RATE_LIMIT=off'));
  }

  it('lets 50 registrations and 10 failed logins from one client through, and warns at start', async () => {
    const app = await createTestApp({ RATE_LIMIT: 'off' });
    openApps.push(app);
    const warnings = rateLimitOffWarnings(app);
    expect(warnings).toHaveLength(1);
    expect(warnings[0].level).toBe(WARN_LEVEL);
    const registrations = await inSequence(50, (i) => register(app, alternating(i), uniqueEmail()));
    expect(registrations).toEqual(times(50, OK));
    const email = await account(app);
    const failures = await inSequence(10, (i) => login(app, alternating(i), email, WRONG_PASSWORD));
    expect(failures).toEqual(times(10, INVALID_CREDENTIALS));
    expect(await login(app, 'REST', email, PASSWORD)).toEqual(OK);
    expect(await app.limits.counters(CLIENT, email)).toEqual(NO_COUNTS);
  });

  it('does not warn when the limits are on', async () => {
    const app = await limitedApp();
    // A request, so the test sees the log is being captured at all.
    await app.server.inject({ method: 'GET', url: '/' });
    expect(app.logLines.length).toBeGreaterThan(0);
    expect(rateLimitOffWarnings(app)).toEqual([]);
  });
});
