// Transport parity: each failure of a REST route and of its GraphQL twin gives one code, message, retry and count.
import type { LightMyRequestResponse } from 'fastify';
import type { LimitCounters } from '../../src/abuse';
import { ERROR_CATALOGUE, type ErrorCode } from '../../src/errors';
import { NEW_PASSWORD, PASSWORD } from '../helpers/factories';
import {
  errorCodes,
  graphql,
  LOGIN,
  LOGOUT,
  PROFILE,
  REGISTER,
  REQUEST_RESET,
  RESET,
  type GraphQLAnswer,
} from '../helpers/graphql';
import { sendEmpty, sendForm, sendJson } from '../helpers/http';
import { createTestApp, type TestApp } from '../helpers/test-app';

/** The client address app.inject reports for every request below. */
const CLIENT_IP = '127.0.0.1';
/** Another client, to fill an account's budget without spending CLIENT_IP's. */

/** Every app is fresh, so fixed emails cannot collide. ACCOUNT is registered by most setups. */
const ACCOUNT = 'owner@example.com';
const OTHER_ACCOUNT = 'other@example.com';
const UNKNOWN = 'ghost@example.com';
const MALFORMED_EMAIL = 'not-an-email';
const WRONG_PASSWORD = 'wrong password';
/** Shaped like a reset token (43 base64url characters) but never issued. */
const UNISSUED_TOKEN = 'C'.repeat(43);

const ONE_AT_SIGN = 'email must have exactly one @ with a name before it and a domain after it';
const OVER_72_BYTES = 'must be at most 72 bytes long in UTF-8 (bcrypt ignores anything longer)';

/** What every limit has counted on a fresh app. */
const NOTHING_COUNTED: LimitCounters = {
  loginPerIp: 0,
  loginFailures: 0,
  loginBackoffSeconds: 0,
  registerPerIp: 0,
  resetRequestPerIp: 0,
  resetRequestPerAccountAndIp: 0,
  resetRequestPerAccount: 0,
};

/** What a row's setup hands to its requests: the reset token it issued, or '' when it issued none. */
interface Fixture {
  readonly resetToken: string;
}

const NO_FIXTURE: Fixture = { resetToken: '' };

/** One REST call: a route and its fields, sent as a form (as curl -d does) unless `json` is set. */
interface RestRequest {
  readonly method: 'POST' | 'PUT';
  readonly url: string;
  readonly fields: Record<string, string>;
  readonly json?: true;
}

/** One GraphQL operation, with the root field it runs (the error's path). */
interface GraphQLRequest {
  readonly query: string;
  readonly field: string;
  readonly variables: Record<string, string>;
}

/** One failure case: the same setup on two fresh apps, the REST request on one and its GraphQL twin on the other. */
interface ParityRow {
  readonly name: string;
  /** Environment on top of RATE_LIMIT=on, the same for both apps. */
  readonly env?: Record<string, string>;
  /** Prepares a fresh app without going through either transport (see `setups`). Default: nothing. */
  readonly setup?: (app: TestApp) => Promise<Fixture>;
  readonly rest: (fixture: Fixture) => RestRequest;
  readonly graphql: (fixture: Fixture) => GraphQLRequest;
  readonly code: ErrorCode;
  /** The field-specific message, when it is not the catalogue's. */
  readonly message?: string;
  /** For RATE_LIMITED and SERVICE_BUSY: the expected wait; for RATE_LIMITED it names the limit that refused. */
  readonly retryAfterSeconds?: number;
  /** The account whose counters are compared; default ACCOUNT. */
  readonly email?: string;
  /** The counters after the request (setup included) that differ from NOTHING_COUNTED, on both transports. */
  readonly counted: Partial<LimitCounters>;
}

/** One bcrypt hash at a time and none waiting: with every slot held, the next hash is refused at once. */
const ONE_HASH_NO_QUEUE = { BCRYPT_MAX_CONCURRENCY: '1', BCRYPT_MAX_QUEUE: '0' };

/** The REST twins, by route. */
const rest = {
  register: (email: string, password: string): RestRequest => ({
    method: 'POST',
    url: '/users',
    fields: { email, password },
  }),
  login: (email: string, password: string): RestRequest => ({
    method: 'POST',
    url: '/sessions',
    fields: { email, password },
  }),
  requestReset: (email: string): RestRequest => ({
    method: 'POST',
    url: '/reset_password',
    fields: { email },
  }),
  reset: (email: string, resetToken: string, newPassword: string): RestRequest => ({
    method: 'PUT',
    url: '/reset_password',
    fields: { email, reset_token: resetToken, new_password: newPassword },
  }),
};

/** The GraphQL twins, by operation. */
const gql = {
  register: (email: string, password: string): GraphQLRequest => ({
    query: REGISTER,
    field: 'register',
    variables: { email, password },
  }),
  login: (email: string, password: string): GraphQLRequest => ({
    query: LOGIN,
    field: 'login',
    variables: { email, password },
  }),
  requestReset: (email: string): GraphQLRequest => ({
    query: REQUEST_RESET,
    field: 'requestPasswordReset',
    variables: { email },
  }),
  reset: (email: string, resetToken: string, newPassword: string): GraphQLRequest => ({
    query: RESET,
    field: 'resetPassword',
    variables: { email, resetToken, newPassword },
  }),
};

/**
 * Takes the one bcrypt slot of an app built with ONE_HASH_NO_QUEUE with a hash that never ends, so the next hash
 * or compare is refused with SERVICE_BUSY. The app is thrown away after the row, so the slot is never given back.
 */
function holdEveryHashSlot(app: TestApp): void {
  void app.passwords.admission.run(() => new Promise<never>(() => undefined));
  expect(app.passwords.admission.load).toEqual({ running: 1, waiting: 0 });
}

/**
 * Row setups. They call the service and the limits directly, as AuthOperations does, never a transport: a setup
 * through REST would make every GraphQL row a cross-transport case, and the mixed case has its own test below.
 */
const setups = {
  /** ACCOUNT exists with PASSWORD. Nothing is counted. */
  account: async (app: TestApp): Promise<Fixture> => {
    await app.accounts.registerUser(ACCOUNT, PASSWORD);
    return NO_FIXTURE;
  },

  /** ACCOUNT exists and holds a fresh reset token. Nothing is counted. */
  resetToken: async (app: TestApp): Promise<Fixture> => {
    await setups.account(app);
    const { resetToken } = await app.accounts.getResetPasswordToken(ACCOUNT);
    return { resetToken };
  },

  /** ACCOUNT holds a reset token issued just over an hour ago (the token lifetime). */
  expiredResetToken: async (app: TestApp): Promise<Fixture> => {
    const fixture = await setups.resetToken(app);
    app.clock.advanceSeconds(3601);
    return fixture;
  },

  /** ACCOUNT and OTHER_ACCOUNT exist; the token is OTHER_ACCOUNT's. */
  othersResetToken: async (app: TestApp): Promise<Fixture> => {
    await setups.account(app);
    await app.accounts.registerUser(OTHER_ACCOUNT, PASSWORD);
    const { resetToken } = await app.accounts.getResetPasswordToken(OTHER_ACCOUNT);
    return { resetToken };
  },

  /** ACCOUNT has had 5 failed logins from CLIENT_IP: its 1-second back-off has just started. */
  loginBackoff: async (app: TestApp): Promise<Fixture> => {
    await setups.account(app);
    // An attempt counts as a failure from its start until it reports success: these never do.
    for (let i = 0; i < 5; i += 1) await app.limits.startLogin(CLIENT_IP, ACCOUNT);
    return NO_FIXTURE;
  },

  /** CLIENT_IP has spent its 5 registrations of the 10-minute window. */
  registrationBudgetSpent: async (app: TestApp): Promise<Fixture> => {
    for (let i = 0; i < 5; i += 1) await app.limits.startRegistration(CLIENT_IP);
    return NO_FIXTURE;
  },

  /** ACCOUNT exists; CLIENT_IP has spent its 3 reset requests of the minute, on three other accounts. */
  resetIpBudgetSpent: async (app: TestApp): Promise<Fixture> => {
    await setups.account(app);
    for (let i = 0; i < 3; i += 1) await app.limits.startResetRequest(CLIENT_IP, `spare-${i}@example.com`);
    return NO_FIXTURE;
  },

  /** ACCOUNT exists; CLIENT_IP has spent its 30 logins of the minute, on thirty other accounts. */
  loginIpBudgetSpent: async (app: TestApp): Promise<Fixture> => {
    await setups.account(app);
    for (let i = 0; i < 30; i += 1) await app.limits.startLogin(CLIENT_IP, `spare-${i}@example.com`);
    return NO_FIXTURE;
  },

  /** ACCOUNT exists and every bcrypt slot is taken (use with ONE_HASH_NO_QUEUE). */
  hashingSaturated: async (app: TestApp): Promise<Fixture> => {
    await setups.account(app);
    holdEveryHashSlot(app);
    return NO_FIXTURE;
  },

  /** ACCOUNT holds a fresh reset token and every bcrypt slot is taken (use with ONE_HASH_NO_QUEUE). */
  resetTokenWhileHashingSaturated: async (app: TestApp): Promise<Fixture> => {
    const fixture = await setups.resetToken(app);
    holdEveryHashSlot(app);
    return fixture;
  },

  /** ACCOUNT exists and has had its 10 reset requests of the hour, from ten other addresses. */
  resetAccountBudgetSpent: async (app: TestApp): Promise<Fixture> => {
    await setups.account(app);
    // Ten networks, three at most from each, spend the account's ten an hour.
    for (let i = 0; i < 10; i += 1) await app.limits.startResetRequest(`192.0.2.${100 + i}`, ACCOUNT);
    return NO_FIXTURE;
  },
};

const ROWS: readonly ParityRow[] = [
  // register ↔ POST /users
  {
    name: 'register with a taken email',
    setup: setups.account,
    rest: () => rest.register(ACCOUNT, PASSWORD),
    graphql: () => gql.register(ACCOUNT, PASSWORD),
    code: 'EMAIL_TAKEN',
    counted: { registerPerIp: 1 },
  },
  {
    name: 'register with a taken email in another case, with spaces around it',
    setup: setups.account,
    rest: () => rest.register(` ${ACCOUNT.toUpperCase()} `, PASSWORD),
    graphql: () => gql.register(` ${ACCOUNT.toUpperCase()} `, PASSWORD),
    code: 'EMAIL_TAKEN',
    counted: { registerPerIp: 1 },
  },
  {
    name: 'register with a malformed email',
    rest: () => rest.register(MALFORMED_EMAIL, PASSWORD),
    graphql: () => gql.register(MALFORMED_EMAIL, PASSWORD),
    code: 'BAD_USER_INPUT',
    message: ONE_AT_SIGN,
    counted: { registerPerIp: 1 },
  },
  {
    name: 'register with a short password',
    rest: () => rest.register(ACCOUNT, 'seven77'),
    graphql: () => gql.register(ACCOUNT, 'seven77'),
    code: 'BAD_USER_INPUT',
    message: 'password must be at least 8 bytes long',
    counted: { registerPerIp: 1 },
  },
  {
    name: 'register with a password over 72 bytes',
    rest: () => rest.register(ACCOUNT, 'x'.repeat(73)),
    graphql: () => gql.register(ACCOUNT, 'x'.repeat(73)),
    code: 'BAD_USER_INPUT',
    message: `password ${OVER_72_BYTES}`,
    counted: { registerPerIp: 1 },
  },
  {
    name: 'register with a password over 72 bytes in UTF-8 only (37 × é)',
    rest: () => rest.register(ACCOUNT, 'é'.repeat(37)),
    graphql: () => gql.register(ACCOUNT, 'é'.repeat(37)),
    code: 'BAD_USER_INPUT',
    message: `password ${OVER_72_BYTES}`,
    counted: { registerPerIp: 1 },
  },
  {
    name: 'register with a NUL in the password',
    rest: () => rest.register(ACCOUNT, 'abcd\0efgh'),
    graphql: () => gql.register(ACCOUNT, 'abcd\0efgh'),
    code: 'BAD_USER_INPUT',
    message: 'password must not contain NUL characters',
    counted: { registerPerIp: 1 },
  },
  {
    // A form cannot carry a lone surrogate (URLSearchParams writes U+FFFD), so REST sends JSON here.
    name: 'register with an unpaired surrogate in the password (REST as JSON)',
    rest: () => ({ ...rest.register(ACCOUNT, '\ud800\ud800\ud800pass'), json: true }),
    graphql: () => gql.register(ACCOUNT, '\ud800\ud800\ud800pass'),
    code: 'BAD_USER_INPUT',
    message: 'password must be valid Unicode text',
    counted: { registerPerIp: 1 },
  },
  {
    name: 'register over the per-IP budget (5 per 10 minutes)',
    setup: setups.registrationBudgetSpent,
    rest: () => rest.register(ACCOUNT, PASSWORD),
    graphql: () => gql.register(ACCOUNT, PASSWORD),
    code: 'RATE_LIMITED',
    retryAfterSeconds: 600,
    counted: { registerPerIp: 6 },
  },
  {
    name: 'register while every bcrypt slot is taken',
    env: ONE_HASH_NO_QUEUE,
    setup: setups.hashingSaturated,
    rest: () => rest.register(OTHER_ACCOUNT, PASSWORD),
    graphql: () => gql.register(OTHER_ACCOUNT, PASSWORD),
    code: 'SERVICE_BUSY',
    retryAfterSeconds: 1,
    counted: { registerPerIp: 1 },
  },

  // login ↔ POST /sessions
  {
    name: 'login with a wrong password',
    setup: setups.account,
    rest: () => rest.login(ACCOUNT, WRONG_PASSWORD),
    graphql: () => gql.login(ACCOUNT, WRONG_PASSWORD),
    code: 'INVALID_CREDENTIALS',
    counted: { loginPerIp: 1, loginFailures: 1 },
  },
  {
    name: 'login with an unknown email',
    setup: setups.account,
    rest: () => rest.login(UNKNOWN, PASSWORD),
    graphql: () => gql.login(UNKNOWN, PASSWORD),
    code: 'INVALID_CREDENTIALS',
    email: UNKNOWN,
    counted: { loginPerIp: 1, loginFailures: 1 },
  },
  {
    // No account can have this email, so there is no account key to count a failure under.
    name: 'login with a malformed email',
    setup: setups.account,
    rest: () => rest.login(MALFORMED_EMAIL, PASSWORD),
    graphql: () => gql.login(MALFORMED_EMAIL, PASSWORD),
    code: 'INVALID_CREDENTIALS',
    email: MALFORMED_EMAIL,
    counted: { loginPerIp: 1 },
  },
  {
    name: 'login with the right password plus bytes past 72',
    setup: setups.account,
    rest: () => rest.login(ACCOUNT, `${PASSWORD}${'x'.repeat(72)}`),
    graphql: () => gql.login(ACCOUNT, `${PASSWORD}${'x'.repeat(72)}`),
    code: 'INVALID_CREDENTIALS',
    counted: { loginPerIp: 1, loginFailures: 1 },
  },
  {
    name: 'login with a too-short password',
    setup: setups.account,
    rest: () => rest.login(ACCOUNT, 'short'),
    graphql: () => gql.login(ACCOUNT, 'short'),
    code: 'INVALID_CREDENTIALS',
    counted: { loginPerIp: 1, loginFailures: 1 },
  },
  {
    // The back-off refuses before the password is looked at: the right one is refused too, and not counted.
    name: 'login with the right password after 5 failures',
    setup: setups.loginBackoff,
    rest: () => rest.login(ACCOUNT, PASSWORD),
    graphql: () => gql.login(ACCOUNT, PASSWORD),
    code: 'RATE_LIMITED',
    retryAfterSeconds: 1,
    counted: { loginPerIp: 6, loginFailures: 5, loginBackoffSeconds: 1 },
  },
  {
    name: 'login over the per-IP limit (30 a minute, spent on other accounts)',
    setup: setups.loginIpBudgetSpent,
    rest: () => rest.login(ACCOUNT, PASSWORD),
    graphql: () => gql.login(ACCOUNT, PASSWORD),
    code: 'RATE_LIMITED',
    retryAfterSeconds: 60,
    counted: { loginPerIp: 31 },
  },
  {
    // The attempt never got a verdict on the password, so it is not held against the account.
    name: 'login while every bcrypt slot is taken',
    env: ONE_HASH_NO_QUEUE,
    setup: setups.hashingSaturated,
    rest: () => rest.login(ACCOUNT, PASSWORD),
    graphql: () => gql.login(ACCOUNT, PASSWORD),
    code: 'SERVICE_BUSY',
    retryAfterSeconds: 1,
    counted: { loginPerIp: 1 },
  },

  // requestPasswordReset ↔ POST /reset_password
  {
    name: 'requestPasswordReset for an unknown email',
    setup: setups.account,
    rest: () => rest.requestReset(UNKNOWN),
    graphql: () => gql.requestReset(UNKNOWN),
    code: 'EMAIL_NOT_REGISTERED',
    email: UNKNOWN,
    counted: { resetRequestPerIp: 1, resetRequestPerAccountAndIp: 1, resetRequestPerAccount: 1 },
  },
  {
    name: 'requestPasswordReset for a malformed email',
    rest: () => rest.requestReset(MALFORMED_EMAIL),
    graphql: () => gql.requestReset(MALFORMED_EMAIL),
    code: 'BAD_USER_INPUT',
    message: ONE_AT_SIGN,
    email: MALFORMED_EMAIL,
    counted: { resetRequestPerIp: 1 },
  },
  {
    // The per-IP limit refuses first, so the account's budget is not touched.
    name: 'requestPasswordReset over the per-IP limit (3 a minute)',
    setup: setups.resetIpBudgetSpent,
    rest: () => rest.requestReset(ACCOUNT),
    graphql: () => gql.requestReset(ACCOUNT),
    code: 'RATE_LIMITED',
    retryAfterSeconds: 60,
    counted: { resetRequestPerIp: 4 },
  },
  {
    name: 'requestPasswordReset over the per-account limit (10 an hour, spent from other addresses)',
    setup: setups.resetAccountBudgetSpent,
    rest: () => rest.requestReset(ACCOUNT),
    graphql: () => gql.requestReset(ACCOUNT),
    code: 'RATE_LIMITED',
    retryAfterSeconds: 3600,
    counted: { resetRequestPerIp: 1, resetRequestPerAccountAndIp: 1, resetRequestPerAccount: 11 },
  },

  // resetPassword ↔ PUT /reset_password (not rate limited: nothing is counted)
  {
    name: 'resetPassword with a wrong token',
    setup: setups.resetToken,
    rest: () => rest.reset(ACCOUNT, UNISSUED_TOKEN, NEW_PASSWORD),
    graphql: () => gql.reset(ACCOUNT, UNISSUED_TOKEN, NEW_PASSWORD),
    code: 'INVALID_RESET_TOKEN',
    counted: {},
  },
  {
    name: 'resetPassword with a malformed token',
    setup: setups.resetToken,
    rest: () => rest.reset(ACCOUNT, 'short', NEW_PASSWORD),
    graphql: () => gql.reset(ACCOUNT, 'short', NEW_PASSWORD),
    code: 'INVALID_RESET_TOKEN',
    counted: {},
  },
  {
    name: 'resetPassword with an expired token',
    setup: setups.expiredResetToken,
    rest: ({ resetToken }) => rest.reset(ACCOUNT, resetToken, NEW_PASSWORD),
    graphql: ({ resetToken }) => gql.reset(ACCOUNT, resetToken, NEW_PASSWORD),
    code: 'INVALID_RESET_TOKEN',
    counted: {},
  },
  {
    name: "resetPassword with another email's token",
    setup: setups.othersResetToken,
    rest: ({ resetToken }) => rest.reset(ACCOUNT, resetToken, NEW_PASSWORD),
    graphql: ({ resetToken }) => gql.reset(ACCOUNT, resetToken, NEW_PASSWORD),
    code: 'INVALID_RESET_TOKEN',
    counted: {},
  },
  {
    name: 'resetPassword with a valid token and a too-short new password',
    setup: setups.resetToken,
    rest: ({ resetToken }) => rest.reset(ACCOUNT, resetToken, 'short'),
    graphql: ({ resetToken }) => gql.reset(ACCOUNT, resetToken, 'short'),
    code: 'BAD_USER_INPUT',
    message: 'new password must be at least 8 bytes long',
    counted: {},
  },
  {
    name: 'resetPassword with a valid token and a new password over 72 bytes',
    setup: setups.resetToken,
    rest: ({ resetToken }) => rest.reset(ACCOUNT, resetToken, 'y'.repeat(73)),
    graphql: ({ resetToken }) => gql.reset(ACCOUNT, resetToken, 'y'.repeat(73)),
    code: 'BAD_USER_INPUT',
    message: `new password ${OVER_72_BYTES}`,
    counted: {},
  },
  {
    name: 'resetPassword with a valid token and a NUL in the new password',
    setup: setups.resetToken,
    rest: ({ resetToken }) => rest.reset(ACCOUNT, resetToken, 'abcd\0efgh'),
    graphql: ({ resetToken }) => gql.reset(ACCOUNT, resetToken, 'abcd\0efgh'),
    code: 'BAD_USER_INPUT',
    message: 'new password must not contain NUL characters',
    counted: {},
  },
  {
    name: 'resetPassword with a valid token while every bcrypt slot is taken',
    env: ONE_HASH_NO_QUEUE,
    setup: setups.resetTokenWhileHashingSaturated,
    rest: ({ resetToken }) => rest.reset(ACCOUNT, resetToken, NEW_PASSWORD),
    graphql: ({ resetToken }) => gql.reset(ACCOUNT, resetToken, NEW_PASSWORD),
    code: 'SERVICE_BUSY',
    retryAfterSeconds: 1,
    counted: {},
  },
];

/** Builds a fresh app with the limits on (plus `env`) and runs `use` on it; the app is closed whatever happens. */
async function withFreshApp<T>(
  use: (app: TestApp) => Promise<T>,
  env: Record<string, string> = {},
): Promise<T> {
  const app = await createTestApp({ ...env, RATE_LIMIT: 'on' });
  try {
    return await use(app);
  } finally {
    await app.close();
  }
}

/** Sends a REST request as a form or as JSON. */
function sendRest(app: TestApp, request: RestRequest): Promise<LightMyRequestResponse> {
  return request.json === true
    ? sendJson(app, request.method, request.url, request.fields)
    : sendForm(app, request.method, request.url, request.fields);
}

/** Runs a GraphQL operation. */
function sendGraphQL(app: TestApp, request: GraphQLRequest): Promise<GraphQLAnswer<unknown>> {
  return graphql(app, request.query, request.variables);
}

/** One side of a row: what the transport answered and what the limits counted once it had. */
interface Outcome<T> {
  readonly answer: T;
  readonly counters: LimitCounters;
}

/** Runs the row's setup, then `send`, on a fresh app; reads the row's counters after the answer. */
function runRow<T>(
  row: ParityRow,
  send: (app: TestApp, fixture: Fixture) => Promise<T>,
): Promise<Outcome<T>> {
  return withFreshApp(async (app) => {
    const fixture = row.setup === undefined ? NO_FIXTURE : await row.setup(app);
    const answer = await send(app, fixture);
    return { answer, counters: await app.limits.counters(CLIENT_IP, row.email ?? ACCOUNT) };
  }, row.env);
}

describe('each failure answers alike on REST and GraphQL', () => {
  it.each(ROWS)('$name → $code', async (row) => {
    const onRest = await runRow(row, (app, fixture) => sendRest(app, row.rest(fixture)));
    const onGraphQL = await runRow(row, (app, fixture) => sendGraphQL(app, row.graphql(fixture)));
    const { status, message: catalogueMessage } = ERROR_CATALOGUE[row.code];
    const message = row.message ?? catalogueMessage;

    const response = onRest.answer;
    expect(response.statusCode).toBe(status);
    expect(response.json()).toEqual({ message });

    const answer = onGraphQL.answer;
    expect(answer.response.statusCode).toBe(200);
    expect(errorCodes(answer)).toEqual([row.code]);
    expect(answer.errors?.[0]?.message).toBe(message);
    expect(answer.errors?.[0]?.path).toEqual([row.graphql(NO_FIXTURE).field]);
    expect(answer.data).toBeNull();

    if (row.code === 'RATE_LIMITED' || row.code === 'SERVICE_BUSY') {
      const retryAfterSeconds = answer.errors?.[0]?.extensions?.retryAfterSeconds;
      expect(retryAfterSeconds).toBe(row.retryAfterSeconds);
      expect(response.headers['retry-after']).toBe(String(retryAfterSeconds));
    } else {
      expect(answer.errors?.[0]?.extensions).toEqual({ code: row.code });
      expect(response.headers['retry-after']).toBeUndefined();
    }

    expect(onGraphQL.counters).toEqual(onRest.counters);
    expect(onRest.counters).toEqual({ ...NOTHING_COUNTED, ...row.counted });
  });
});

describe('one login-failure count for both transports', () => {
  const failures = ['REST', 'GraphQL', 'REST', 'GraphQL', 'REST'] as const;

  /** A login of ACCOUNT through one transport: the REST status or GraphQL code, and any retry it was given. */
  async function login(
    app: TestApp,
    transport: 'REST' | 'GraphQL',
    password: string,
  ): Promise<{ outcome: number | string | undefined; retryAfterSeconds: number | undefined }> {
    if (transport === 'REST') {
      const response = await sendRest(app, rest.login(ACCOUNT, password));
      const header = response.headers['retry-after'];
      return {
        outcome: response.statusCode,
        retryAfterSeconds: header === undefined ? undefined : Number(header),
      };
    }
    const answer = await sendGraphQL(app, gql.login(ACCOUNT, password));
    const retry = answer.errors?.[0]?.extensions?.retryAfterSeconds;
    return {
      outcome: errorCodes(answer)[0],
      retryAfterSeconds: typeof retry === 'number' ? retry : undefined,
    };
  }

  it.each(['REST', 'GraphQL'] as const)(
    '3 REST and 2 GraphQL failures make 5, and then a %s login with the right password is RATE_LIMITED',
    (next) =>
      withFreshApp(async (app) => {
        await setups.account(app);
        for (const [i, transport] of failures.entries()) {
          const expected = transport === 'REST' ? 401 : 'INVALID_CREDENTIALS';
          expect(await login(app, transport, WRONG_PASSWORD)).toEqual({
            outcome: expected,
            retryAfterSeconds: undefined,
          });
          expect((await app.limits.counters(CLIENT_IP, ACCOUNT)).loginFailures).toBe(i + 1);
        }
        expect(await app.limits.counters(CLIENT_IP, ACCOUNT)).toEqual({
          ...NOTHING_COUNTED,
          loginPerIp: 5,
          loginFailures: 5,
          loginBackoffSeconds: 1,
        });

        expect(await login(app, next, PASSWORD)).toEqual({
          outcome: next === 'REST' ? 429 : 'RATE_LIMITED',
          retryAfterSeconds: 1,
        });
        expect(await app.limits.counters(CLIENT_IP, ACCOUNT)).toEqual({
          ...NOTHING_COUNTED,
          loginPerIp: 6,
          loginFailures: 5,
          loginBackoffSeconds: 1,
        });
      }),
  );
});

describe('the deliberate differences', () => {
  it('logout without a session: REST 403 UNAUTHENTICATED, GraphQL false; neither counts anything', () =>
    withFreshApp(async (app) => {
      const response = await sendEmpty(app, 'DELETE', '/sessions');
      expect(response.statusCode).toBe(ERROR_CATALOGUE.UNAUTHENTICATED.status);
      expect(response.json()).toEqual({ message: ERROR_CATALOGUE.UNAUTHENTICATED.message });

      const answer = await graphql(app, LOGOUT);
      expect(answer.response.statusCode).toBe(200);
      expect(answer.errors).toBeUndefined();
      expect(answer.data).toEqual({ logout: false });

      expect(await app.limits.counters(CLIENT_IP, ACCOUNT)).toEqual(NOTHING_COUNTED);
    }));

  it('profile without a session: REST 403 UNAUTHENTICATED, GraphQL null; neither counts anything', () =>
    withFreshApp(async (app) => {
      const response = await sendEmpty(app, 'GET', '/profile');
      expect(response.statusCode).toBe(ERROR_CATALOGUE.UNAUTHENTICATED.status);
      expect(response.json()).toEqual({ message: ERROR_CATALOGUE.UNAUTHENTICATED.message });

      const answer = await graphql(app, PROFILE);
      expect(answer.response.statusCode).toBe(200);
      expect(answer.errors).toBeUndefined();
      expect(answer.data).toEqual({ profile: null });

      expect(await app.limits.counters(CLIENT_IP, ACCOUNT)).toEqual(NOTHING_COUNTED);
    }));
});
