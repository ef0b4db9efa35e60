// With REDIS_URL, the rate limits live in Redis: two instances (even on separate databases) share every budget.
// @needs redis: left out of a run without Redis (TEST_REDIS_URL, or the local server), with a line saying so (jest.config.ts).
import { randomBytes } from 'node:crypto';
import { REDIS, serverUrl } from '../helpers/servers';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { sendForm } from '../helpers/http';
import { PASSWORD } from '../helpers/factories';

/** The local Redis of shared/services.md (CI starts it); TEST_REDIS_URL points elsewhere. */
const REDIS_URL = serverUrl(REDIS);

let first: TestApp;
let second: TestApp;

beforeEach(async () => {
  // A key prefix of its own, so runs sharing one Redis (and earlier runs' keys) never meet.
  const env = {
    REDIS_URL,
    REDIS_KEY_PREFIX: `auth-test-${randomBytes(6).toString('hex')}`,
    RATE_LIMIT: 'on',
  };
  first = await createTestApp(env);
  second = await createTestApp(env);
});
afterEach(async () => {
  await first.close();
  await second.close();
});

/** POST /users on an instance; the status. */
async function register(app: TestApp, email: string): Promise<number> {
  return (await sendForm(app, 'POST', '/users', { email, password: PASSWORD })).statusCode;
}

it('counts registrations on both instances against one budget of 5', async () => {
  const statuses = [];
  for (let i = 0; i < 6; i += 1)
    statuses.push(await register(i % 2 === 0 ? first : second, `redis-${i}@example.com`));
  expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
});

it('starts the per-account back-off after 5 failures spread over both instances', async () => {
  const email = 'redis-victim@example.com';
  // Each instance has its own database here, so the account exists on both; only the limits are shared.
  expect(await register(first, email)).toBe(200);
  expect(await register(second, email)).toBe(200);
  for (let i = 0; i < 5; i += 1) {
    const app = i % 2 === 0 ? first : second;
    expect(
      (await sendForm(app, 'POST', '/sessions', { email, password: 'wrong password 1' })).statusCode,
    ).toBe(401);
  }
  for (const app of [first, second]) {
    const refused = await sendForm(app, 'POST', '/sessions', { email, password: PASSWORD });
    expect([refused.statusCode, refused.headers['retry-after']]).toEqual([429, '1']);
  }
  expect(await first.limits.counters('127.0.0.1', email)).toEqual(
    await second.limits.counters('127.0.0.1', email),
  );
});

it('admits exactly one of a burst of wrong logins racing over both instances once the back-off threshold is hit', async () => {
  const email = 'redis-burst@example.com';
  expect(await register(first, email)).toBe(200);
  expect(await register(second, email)).toBe(200);
  const wrongLogin = async (app: TestApp): Promise<number> =>
    (await sendForm(app, 'POST', '/sessions', { email, password: 'wrong password 1' })).statusCode;
  for (let i = 0; i < 4; i += 1) expect(await wrongLogin(first)).toBe(401);
  // The fifth failure opens the back-off; ten attempts race for it, half on each instance.
  const burst = await Promise.all(
    Array.from({ length: 10 }, (_, i) => wrongLogin(i % 2 === 0 ? first : second)),
  );
  expect(burst.sort()).toEqual([401, 429, 429, 429, 429, 429, 429, 429, 429, 429]);
  expect((await first.limits.counters('127.0.0.1', email)).loginFailures).toBe(5);
});
