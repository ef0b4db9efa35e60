// Two real server processes on one PostgreSQL database behave as one service: sessions, resets, races, limits.
// @needs postgres: left out of a run without PostgreSQL (TEST_DATABASE_URL, or the local server), with a line saying so (jest.config.ts).
import {
  createDatabase,
  dropDatabase,
  newRunPrefix,
  postgresServerUrl,
  withDatabase,
} from '../helpers/postgres';
import { formPost, killHard, startServer, type ServerProcess } from '../helpers/server-process';

/** A password every policy accepts for the emails used here. */
const PASSWORD = 'sunlit-harbour-42';
const NEW_PASSWORD = 'quiet-lantern-77';
/** Registrations racing for one email, spread evenly over both instances. */
const RACERS = 12;

const server = postgresServerUrl();
let database: string;
let a: ServerProcess;
let b: ServerProcess;

beforeAll(async () => {
  database = `${newRunPrefix()}_two_instances`;
  await createDatabase(server, database);
  const env = {
    DATABASE_URL: withDatabase(server, database),
    LOG_LEVEL: 'silent',
    BCRYPT_ROUNDS: '4',
    RATE_LIMIT: 'on',
    RESET_TOKEN_DELIVERY: 'response',
    // Behind a load balancer the client address comes from X-Forwarded-For; the race below uses that to look like
    // twelve different clients rather than spend one client's registration budget.
    TRUST_PROXY: 'loopback',
  };
  // Both start at once on an empty database, as two replicas of a fresh deployment do: one migrates, the other
  // waits for the migration lock and then finds nothing to do.
  [a, b] = await Promise.all([startServer(env), startServer(env)]);
}, 60_000);

afterAll(async () => {
  await Promise.all([a, b].filter((s) => s !== undefined).map((s) => killHard(s)));
  await dropDatabase(server, database);
});

/** A request to one instance; the status and parsed JSON body (null when there is none). */
async function call(
  instance: ServerProcess,
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; body: unknown; headers: Headers }> {
  const response = await fetch(`${instance.baseUrl}${path}`, { redirect: 'manual', ...init });
  const text = await response.text();
  return {
    status: response.status,
    body: text === '' ? null : (JSON.parse(text) as unknown),
    headers: response.headers,
  };
}

/** Registers on one instance and logs in on another; the session cookie (`session_id=...`). */
async function registerAndLogin(on: ServerProcess, email: string): Promise<string> {
  expect((await call(on, '/users', formPost({ email, password: PASSWORD }))).status).toBe(200);
  const login = await call(on, '/sessions', formPost({ email, password: PASSWORD }));
  expect([login.status, login.body]).toEqual([200, { email, message: 'logged in' }]);
  return (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
}

it('accepts on B a session created by a login on A, on REST and GraphQL', async () => {
  const email = 'roaming@example.com';
  const cookie = await registerAndLogin(a, email);
  expect(await call(b, '/profile', { headers: { cookie } })).toMatchObject({ status: 200, body: { email } });
  const graphql = await call(b, '/graphql', {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ profile { email } }' }),
  });
  expect([graphql.status, graphql.body]).toEqual([200, { data: { profile: { email } } }]);
});

it('ends on A a session logged out on B', async () => {
  const email = 'leaving@example.com';
  const cookie = await registerAndLogin(a, email);
  expect((await call(a, '/profile', { headers: { cookie } })).status).toBe(200);
  const logout = await call(b, '/sessions', { method: 'DELETE', headers: { cookie } });
  expect([logout.status, logout.headers.get('location')]).toEqual([302, '/']);
  expect(await call(a, '/profile', { headers: { cookie } })).toMatchObject({
    status: 403,
    body: { message: 'no valid session' },
  });
});

it('completes on B a password reset requested on A', async () => {
  const email = 'forgetful@example.com';
  await registerAndLogin(a, email);
  const request = await call(a, '/reset_password', formPost({ email }));
  expect(request.status).toBe(200);
  const { reset_token: resetToken } = request.body as { reset_token: string };
  const update = await call(b, '/reset_password', {
    ...formPost({ email, reset_token: resetToken, new_password: NEW_PASSWORD }),
    method: 'PUT',
  });
  expect([update.status, update.body]).toEqual([200, { email, message: 'Password updated' }]);
  // The token is spent for both instances, and only the new password opens the account on either.
  const replay = await call(a, '/reset_password', {
    ...formPost({ email, reset_token: resetToken, new_password: 'another-pass-99' }),
    method: 'PUT',
  });
  expect(replay.status).toBe(403);
  expect((await call(a, '/sessions', formPost({ email, password: PASSWORD }))).status).toBe(401);
  expect((await call(b, '/sessions', formPost({ email, password: NEW_PASSWORD }))).status).toBe(200);
});

it('gives exactly one success to concurrent registrations of one email spread over A and B', async () => {
  const email = 'contested@example.com';
  const attempts = await Promise.all(
    Array.from({ length: RACERS }, (_, i) => {
      const init = formPost({ email, password: PASSWORD });
      const headers = {
        ...(init.headers as Record<string, string>),
        'x-forwarded-for': `203.0.113.${i + 1}`,
      };
      return call(i % 2 === 0 ? a : b, '/users', { ...init, headers });
    }),
  );
  const outcomes = attempts.map(({ status, body }) => JSON.stringify([status, body])).sort();
  expect(outcomes).toEqual(
    [
      JSON.stringify([200, { email, message: 'user created' }]),
      ...Array<string>(RACERS - 1).fill(JSON.stringify([400, { message: 'email already registered' }])),
    ].sort(),
  );
  // The one account the winner made logs in on both.
  for (const instance of [a, b]) {
    expect((await call(instance, '/sessions', formPost({ email, password: PASSWORD }))).status).toBe(200);
  }
});

it('starts the per-account back-off from login failures counted on A and B together', async () => {
  const email = 'guessed@example.com';
  await registerAndLogin(a, email);
  const failures = [];
  for (let i = 0; i < 5; i += 1) {
    failures.push(
      (await call(i % 2 === 0 ? a : b, '/sessions', formPost({ email, password: 'wrong-guess-1' }))).status,
    );
  }
  // Neither instance saw five failures on its own; together they reach the threshold.
  expect(failures).toEqual([401, 401, 401, 401, 401]);
  for (const instance of [a, b]) {
    const refused = await call(instance, '/sessions', formPost({ email, password: PASSWORD }));
    expect([refused.status, refused.headers.get('retry-after'), refused.body]).toEqual([
      429,
      '1',
      { message: 'too many attempts, try again later' },
    ]);
  }
});
