// PostgreSQL backends terminated mid-request (pg_terminate_backend under load): outages answered 503, never a 500.
// @needs postgres: left out of a run without PostgreSQL (TEST_DATABASE_URL, or the local server), with a line saying so (jest.config.ts).
import { Client } from 'pg';
import { postgresServerUrl, scratchDatabase } from '../helpers/postgres';
import { sendForm } from '../helpers/http';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { PASSWORD, uniqueEmail } from '../helpers/factories';

let database: Awaited<ReturnType<typeof scratchDatabase>>;
let app: TestApp;
let killer: Client;
beforeAll(async () => {
  database = await scratchDatabase('terminated');
  app = await createTestApp({ DATABASE_URL: database.url, BCRYPT_ROUNDS: '4' });
  killer = new Client({ connectionString: postgresServerUrl() });
  await killer.connect();
});
afterAll(async () => {
  await killer.end();
  await app.close();
  await database.drop();
});

it('answers registrations and logins 200, 401 or 503 while their backends are terminated, never 500', async () => {
  let stop = false;
  let terminated = 0;
  // A second connection ends every backend of the app's database, over and over, as a failover or an operator would.
  const terminating = (async () => {
    while (!stop) {
      const result = await killer.query<{ ended: boolean }>(
        'select pg_terminate_backend(pid) as ended from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
        [database.name],
      );
      terminated += result.rows.filter((row) => row.ended).length;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  const statuses: number[] = [];
  const registered: string[] = [];
  try {
    for (let round = 0; round < 60; round += 1) {
      const email = uniqueEmail('terminated');
      const answers = await Promise.all([
        sendForm(app, 'POST', '/users', { email, password: PASSWORD }),
        sendForm(app, 'POST', '/sessions', { email: registered.at(-1) ?? email, password: PASSWORD }),
      ]);
      statuses.push(...answers.map((answer) => answer.statusCode));
      if (answers[0]?.statusCode === 200) registered.push(email);
    }
  } finally {
    stop = true;
    await terminating;
  }
  expect(terminated).toBeGreaterThan(0);
  expect([...new Set(statuses)].filter((status) => ![200, 401, 503].includes(status))).toEqual([]);
  expect(statuses).toContain(503);
  // Every registration answered 200 is there once the database is left alone: nothing acknowledged was lost.
  for (const email of registered) {
    let status = 503;
    for (let attempt = 0; attempt < 10 && status === 503; attempt += 1) {
      status = (await sendForm(app, 'POST', '/sessions', { email, password: PASSWORD })).statusCode;
    }
    expect({ email, status }).toEqual({ email, status: 200 });
  }
}, 120_000);
