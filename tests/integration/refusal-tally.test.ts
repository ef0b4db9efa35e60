// Refusals are cheap: RATE_LIMITED is tallied in memory and written once a window per client and account, with a count.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { graphql } from '../helpers/graphql';
import { PASSWORD, registeredUser, signedInUser, uniqueEmail } from '../helpers/factories';

const WRONG_PASSWORD = 'not the password 1';
/** The limit every test here runs into: one login a client network an hour. */
const ONE_LOGIN_AN_HOUR = { RATE_LIMIT: 'on', RATE_LIMIT_LOGIN_PER_IP: '1/1h' };

/** One stored RATE_LIMITED row, in the names the tests compare. */
interface RefusalRow {
  readonly userId: number | null;
  readonly email: string | null;
  readonly ip: string | null;
  readonly reason: string | null;
  readonly count: number;
}

const openApps: TestApp[] = [];

/** A fresh app (so row counts are exact) with `env` on top; closed after the test. */
async function freshApp(env: Record<string, string> = {}): Promise<TestApp> {
  const app = await createTestApp({ ...ONE_LOGIN_AN_HOUR, ...env });
  openApps.push(app);
  return app;
}

afterEach(async () => {
  await Promise.all(openApps.splice(0).map((app) => app.close()));
});

/** A login over REST from `ip`; its status. */
async function login(app: TestApp, email: string, password: string, ip: string): Promise<number> {
  const response = await app.server.inject({
    method: 'POST',
    url: '/sessions',
    payload: { email, password },
    remoteAddress: ip,
  });
  return response.statusCode;
}

/** Every stored RATE_LIMITED row, oldest first. */
async function refusalRows(app: TestApp): Promise<RefusalRow[]> {
  const rows = await app.orm.em.getConnection().execute<
    {
      user_id: number | null;
      email: string | null;
      ip: string | null;
      reason: string | null;
      count: number;
    }[]
  >("select user_id, email, ip, reason, count from security_events where type = 'RATE_LIMITED' order by id");
  return rows.map((row) => ({
    userId: row.user_id === null ? null : Number(row.user_id),
    email: row.email,
    ip: row.ip,
    reason: row.reason,
    count: Number(row.count),
  }));
}

/** How many security events are stored at all. */
async function eventCount(app: TestApp): Promise<number> {
  const [row] = await app.orm.em
    .getConnection()
    .execute<{ n: number | string }[]>('select count(*) as n from security_events');
  return Number(row?.n);
}

/** The id of the user with this email. */
async function userIdOf(app: TestApp, email: string): Promise<number> {
  const [row] = await app.orm.em
    .getConnection()
    .execute<{ id: number }[]>('select id from users where email = ?', [email]);
  return Number(row?.id);
}

it('writes nothing while refusing, then one row for a burst of refusals, with their count', async () => {
  const app = await freshApp();
  const email = await registeredUser(app);
  expect(await login(app, email, PASSWORD, '198.51.100.1')).toBe(200);
  const before = await eventCount(app);
  const statuses = await Promise.all(
    Array.from({ length: 200 }, () => login(app, email, WRONG_PASSWORD, '198.51.100.1')),
  );
  expect(new Set(statuses)).toEqual(new Set([429]));
  // Not one row per refusal, not even one for the burst yet: refusing cost no write at all.
  expect(await eventCount(app)).toBe(before);
  await app.settled();
  expect(await refusalRows(app)).toEqual([
    { userId: await userIdOf(app, email), email, ip: '198.51.100.1', reason: 'LOGIN', count: 200 },
  ]);
});

it('keeps one tally per client network (an IPv6 /64 is one) and account', async () => {
  const app = await freshApp();
  const [first, second] = [await registeredUser(app), await registeredUser(app)];
  await login(app, first, PASSWORD, '198.51.100.1');
  await login(app, first, PASSWORD, '203.0.113.1');
  await login(app, first, WRONG_PASSWORD, '198.51.100.1');
  await login(app, first, WRONG_PASSWORD, '198.51.100.1');
  await login(app, second, WRONG_PASSWORD, '198.51.100.1');
  await login(app, first, WRONG_PASSWORD, '203.0.113.1');
  // Two addresses of one IPv6 /64 are one network.
  await login(app, first, PASSWORD, '2001:db8::1');
  await login(app, first, WRONG_PASSWORD, '2001:db8::2');
  await login(app, first, WRONG_PASSWORD, '2001:db8::3');
  await app.settled();
  const firstId = await userIdOf(app, first);
  expect(await refusalRows(app)).toEqual([
    { userId: firstId, email: first, ip: '198.51.100.1', reason: 'LOGIN', count: 2 },
    { userId: await userIdOf(app, second), email: second, ip: '198.51.100.1', reason: 'LOGIN', count: 1 },
    { userId: firstId, email: first, ip: '203.0.113.1', reason: 'LOGIN', count: 1 },
    { userId: firstId, email: first, ip: '2001:db8::2', reason: 'LOGIN', count: 2 },
  ]);
});

it('starts a new row in the next window, and keeps the refusals of an unknown email without an account', async () => {
  const app = await freshApp();
  const ghost = uniqueEmail('ghost');
  await login(app, ghost, PASSWORD, '198.51.100.1');
  await login(app, ghost, PASSWORD, '198.51.100.1');
  await app.settled();
  await login(app, ghost, PASSWORD, '198.51.100.1');
  await app.settled();
  expect(await refusalRows(app)).toEqual([
    { userId: null, email: ghost, ip: '198.51.100.1', reason: 'LOGIN', count: 1 },
    { userId: null, email: ghost, ip: '198.51.100.1', reason: 'LOGIN', count: 1 },
  ]);
});

it('writes a full batch of tallies at once, so each account named in a burst keeps its own row', async () => {
  const app = await freshApp();
  await login(app, uniqueEmail('first'), PASSWORD, '198.51.100.1');
  const spray = 1200;
  for (let i = 0; i < spray; i += 1) await login(app, uniqueEmail('spray'), PASSWORD, '198.51.100.1');
  await app.settled();
  const rows = await refusalRows(app);
  expect(rows).toHaveLength(spray);
  expect(rows.every((row) => row.count === 1 && row.email !== null && row.ip === '198.51.100.1')).toBe(true);
});

it('bounds a spray of made-up emails: past 5,000 tallies a window, one row per network, then per limit', async () => {
  const app = await freshApp();
  await login(app, uniqueEmail('first'), PASSWORD, '198.51.100.1');
  for (let i = 0; i < 5300; i += 1) await login(app, uniqueEmail('spray'), PASSWORD, '198.51.100.1');
  // 1,001 other networks, refused once each after their one allowed login: the 1,000 networks' tallies are full
  // after 999 of them, so the last two are counted under the limit alone, with no address (not under whichever
  // network happened to come first).
  for (let i = 0; i < 1001; i += 1) {
    const ip = `203.0.${i >> 8}.${i & 0xff}`;
    await login(app, uniqueEmail('first'), PASSWORD, ip);
    await login(app, uniqueEmail('spray'), PASSWORD, ip);
  }
  await app.settled();
  const rows = await refusalRows(app);
  const withEmail = rows.filter((row) => row.email !== null);
  const withoutEmail = rows.filter((row) => row.email === null);
  expect(withEmail).toHaveLength(5000);
  expect(withoutEmail).toHaveLength(1001);
  expect(withoutEmail[0]).toEqual({
    userId: null,
    email: null,
    ip: '198.51.100.1',
    reason: 'LOGIN',
    count: 300,
  });
  expect(withoutEmail[1]).toEqual({ userId: null, email: null, ip: '203.0.0.0', reason: 'LOGIN', count: 1 });
  expect(withoutEmail.at(-1)).toEqual({ userId: null, email: null, ip: null, reason: 'LOGIN', count: 2 });
  expect(rows.reduce((sum, row) => sum + row.count, 0)).toBe(5300 + 1001);
});

it('shows the owner how often someone was refused on their account', async () => {
  const app = await freshApp();
  const { email, cookie } = await signedInUser(app);
  for (let i = 0; i < 7; i += 1) await login(app, email, WRONG_PASSWORD, '127.0.0.1');
  await app.settled();
  const answer = await graphql<{ securityEvents: { type: string; reason: string; count: number }[] }>(
    app,
    'query { securityEvents(limit: 1) { type reason count } }',
    {},
    cookie,
  );
  expect(answer.data?.securityEvents).toEqual([{ type: 'RATE_LIMITED', reason: 'LOGIN', count: 7 }]);
});

it('writes the tallies when the app closes, so a shutdown loses no refusal', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'auth-tally-'));
  try {
    const env = { ...ONE_LOGIN_AN_HOUR, DATABASE_URL: join(directory, 'auth.sqlite') };
    const first = await createTestApp(env);
    const email = await registeredUser(first);
    await login(first, email, PASSWORD, '198.51.100.1');
    for (let i = 0; i < 3; i += 1) await login(first, email, PASSWORD, '198.51.100.1');
    await first.close();
    const second = await freshApp(env);
    expect(await refusalRows(second)).toEqual([
      { userId: await userIdOf(second, email), email, ip: '198.51.100.1', reason: 'LOGIN', count: 3 },
    ]);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});
