// The probes through the real app: /healthz always answers, /readyz only while the database answers and is migrated.
import { migrationsFor } from '../../src/migrations';
import { createTestApp, type TestApp } from '../helpers/test-app';

let app: TestApp;

beforeEach(async () => {
  app = await createTestApp();
});
afterEach(async () => {
  await app.close();
});

/** GET a probe and return its status and parsed body. */
async function probe(path: string): Promise<[number, unknown]> {
  const response = await app.server.inject({ method: 'GET', url: path });
  return [response.statusCode, response.json()];
}

describe('GET /healthz', () => {
  it('answers 200 {"status":"ok"}', async () => {
    expect(await probe('/healthz')).toEqual([200, { status: 'ok' }]);
  });

  it('still answers 200 when the database is gone: a database outage must not get the process restarted', async () => {
    await app.orm.close(true);
    expect(await probe('/healthz')).toEqual([200, { status: 'ok' }]);
  });
});

describe('GET /readyz', () => {
  it('answers 200 {"status":"ready"} with the database up and migrated', async () => {
    expect(await probe('/readyz')).toEqual([200, { status: 'ready' }]);
  });

  it('answers 503 "migrations pending" when a migration has not been applied', async () => {
    const newest = migrationsFor(app.config.database.dialect).at(-1)?.name ?? '';
    await app.orm.em.getConnection().execute('delete from mikro_orm_migrations where name = ?', [newest]);
    expect(await probe('/readyz')).toEqual([503, { status: 'not ready', reason: 'migrations pending' }]);
  });

  it('answers 503 "database unreachable" when the database connection is closed', async () => {
    await app.orm.close(true);
    expect(await probe('/readyz')).toEqual([503, { status: 'not ready', reason: 'database unreachable' }]);
  });
});
