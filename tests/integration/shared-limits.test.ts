// Two app instances on one PostgreSQL database share every limit, as instances behind one load balancer must.
// @needs postgres: left out of a run without PostgreSQL (TEST_DATABASE_URL, or the local server), with a line saying so (jest.config.ts).
import { createTestApp, type TestApp } from '../helpers/test-app';
import {
  createDatabase,
  dropDatabase,
  newRunPrefix,
  postgresServerUrl,
  withDatabase,
} from '../helpers/postgres';
import { sendForm } from '../helpers/http';
import { PASSWORD } from '../helpers/factories';

const SERVER_URL = postgresServerUrl();

let database: string;
let first: TestApp;
let second: TestApp;

beforeEach(async () => {
  database = `${newRunPrefix()}_shared`;
  await createDatabase(SERVER_URL, database);
  const env = { DATABASE_URL: withDatabase(SERVER_URL, database), RATE_LIMIT: 'on' };
  // The first instance migrates; the second finds nothing pending, as a second replica would.
  first = await createTestApp(env);
  second = await createTestApp(env);
});
afterEach(async () => {
  await first.close();
  await second.close();
  await dropDatabase(SERVER_URL, database);
});

/** POST /users on an instance; the status. */
async function register(app: TestApp, email: string): Promise<number> {
  return (await sendForm(app, 'POST', '/users', { email, password: PASSWORD })).statusCode;
}

/** POST /sessions on an instance; the status and Retry-After. */
async function login(app: TestApp, email: string, password: string): Promise<[number, string | undefined]> {
  const response = await sendForm(app, 'POST', '/sessions', { email, password });
  const retryAfter = response.headers['retry-after'];
  return [response.statusCode, retryAfter === undefined ? undefined : String(retryAfter)];
}

it('counts registrations from one client on both instances against one budget of 5', async () => {
  const statuses = [];
  for (let i = 0; i < 6; i += 1)
    statuses.push(await register(i % 2 === 0 ? first : second, `shared-${i}@example.com`));
  expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
  expect(await register(first, 'shared-7@example.com')).toBe(429);
});

it('starts the per-account back-off after 5 failures spread over both instances, on both', async () => {
  const email = 'victim@example.com';
  expect(await register(first, email)).toBe(200);
  const failures = [];
  for (let i = 0; i < 5; i += 1)
    failures.push((await login(i % 2 === 0 ? second : first, email, 'wrong password 1'))[0]);
  expect(failures).toEqual([401, 401, 401, 401, 401]);
  expect(await login(first, email, PASSWORD)).toEqual([429, '1']);
  expect(await login(second, email, PASSWORD)).toEqual([429, '1']);
  expect(await first.limits.counters('127.0.0.1', email)).toEqual(
    await second.limits.counters('127.0.0.1', email),
  );
});

it('lets a success on one instance clear failures counted on the other', async () => {
  const email = 'forgetful@example.com';
  expect(await register(second, email)).toBe(200);
  for (let i = 0; i < 3; i += 1) expect((await login(first, email, 'wrong password 1'))[0]).toBe(401);
  expect((await login(second, email, PASSWORD))[0]).toBe(200);
  expect((await first.limits.counters('127.0.0.1', email)).loginFailures).toBe(0);
});

it('admits exactly one of a burst of wrong logins racing over both instances once the back-off threshold is hit', async () => {
  const email = 'burst@example.com';
  expect(await register(first, email)).toBe(200);
  for (let i = 0; i < 4; i += 1) expect((await login(first, email, 'wrong password 1'))[0]).toBe(401);
  // The fifth failure opens the back-off; ten attempts race for it, half on each instance.
  const burst = await Promise.all(
    Array.from({ length: 10 }, (_, i) => login(i % 2 === 0 ? first : second, email, 'wrong password 1')),
  );
  const statuses = burst.map(([status]) => status).sort();
  expect(statuses).toEqual([401, 429, 429, 429, 429, 429, 429, 429, 429, 429]);
  // Refused attempts never reached the password: only the admitted one counts as a failure.
  expect((await second.limits.counters('127.0.0.1', email)).loginFailures).toBe(5);
});
