// PostgreSQL migrations: instances starting at once apply each migration exactly once, and agree with the entities.
// @needs postgres: left out of a run without PostgreSQL (TEST_DATABASE_URL, or the local server), with a line saying so (jest.config.ts).
import { loadConfig } from '../../src/config';
import { openDatabase, type Orm } from '../../src/database';
import { migrationsFor } from '../../src/migrations';
import {
  createDatabase,
  dropDatabase,
  newRunPrefix,
  postgresServerUrl,
  withDatabase,
} from '../helpers/postgres';

const SERVER_URL = postgresServerUrl();

let database: string;
const opened: Orm[] = [];

beforeEach(async () => {
  database = `${newRunPrefix()}_migrate`;
  await createDatabase(SERVER_URL, database);
});
afterEach(async () => {
  for (const orm of opened.splice(0)) await orm.close(true);
  await dropDatabase(SERVER_URL, database);
});

/** Opens (and migrates) the test database as a starting instance would. */
async function start(): Promise<string[]> {
  const config = loadConfig({ DATABASE_URL: withDatabase(SERVER_URL, database), NODE_ENV: 'test' });
  const { orm, appliedMigrations } = await openDatabase(config);
  opened.push(orm);
  return [...appliedMigrations];
}

it('applies every migration exactly once when four instances start together', async () => {
  const applied = await Promise.all([start(), start(), start(), start()]);
  const all = migrationsFor('postgresql').map((migration) => migration.name);
  // One instance applied everything (under the advisory lock); the others found nothing left to do.
  expect(applied.filter((names) => names.length > 0)).toEqual([all]);
  expect(applied.flat().sort()).toEqual([...all].sort());
  const rows = await opened[0]?.em
    .getConnection()
    .execute<{ name: string }[]>('select name from mikro_orm_migrations order by id');
  expect(rows?.map((row) => row.name)).toEqual(all);
});

it('leaves no difference between the entities and the migrated database', async () => {
  await start();
  const orm = opened[0];
  const diff = await orm?.getSchemaGenerator().getUpdateSchemaSQL({ wrap: false });
  // rate_limits belongs to rate-limiter-flexible, not to an entity: the only thing the ORM would drop.
  expect(
    diff
      ?.trim()
      .split('\n')
      .filter((line) => line !== '' && !line.includes('rate_limits')),
  ).toEqual([]);
});
