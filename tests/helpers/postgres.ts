// PostgreSQL for the test suite: a migrated template database per run, and a fresh copy of it per test app.
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { POSTGRES, serverUrl } from './servers';

/** The variable that turns the PostgreSQL run on: a URL of a server and a database the tests may connect to. */
export const TEST_DATABASE_URL_VARIABLE = 'TEST_DATABASE_URL';
/** Set by the global setup for the workers: the name of this run's migrated template database. */
const TEMPLATE_VARIABLE = 'AUTH_TEST_PG_TEMPLATE';

/** The PostgreSQL URL the suite runs against, or undefined for the default SQLite run. */
export function testDatabaseUrl(): string | undefined {
  const url = process.env[TEST_DATABASE_URL_VARIABLE];
  return url === undefined || url === '' ? undefined : url;
}

/** The local server that CI and the README's services provide (shared/services.md). */
export const LOCAL_POSTGRES_URL = POSTGRES.localUrl;

/**
 * The server for suites that always need PostgreSQL (several instances, migrations racing, outages), in the SQLite
 * run too: TEST_DATABASE_URL's when set, else the local one. Those suites say `@needs postgres`, so a run without
 * the server leaves them out (see servers.ts).
 */
export function postgresServerUrl(): string {
  return serverUrl(POSTGRES);
}

/** The same server URL with another database name. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** Runs statements on the server's maintenance connection (the database named in TEST_DATABASE_URL). */
async function admin<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A database name unique to this run: `auth_test_<random>`; copies append `_<n>`. */
export function newRunPrefix(): string {
  return `auth_test_${randomBytes(4).toString('hex')}`;
}

/** Creates an empty database for the run's template; the global setup migrates it. */
export async function createDatabase(url: string, name: string, template?: string): Promise<void> {
  await admin(url, async (client) => {
    // Two workers copying one template at the same instant can collide ("being accessed by other users").
    for (let attempt = 0; ; attempt += 1) {
      try {
        await client.query(
          `create database "${name}"${template === undefined ? '' : ` template "${template}"`}`,
        );
        return;
      } catch (error) {
        if (attempt >= 20 || !String(error).includes('being accessed by other users')) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 100));
      }
    }
  });
}

/** Drops a database, closing any connection still open to it. */
export async function dropDatabase(url: string, name: string): Promise<void> {
  await admin(url, (client) => client.query(`drop database if exists "${name}" with (force)`));
}

/** Drops every database whose name starts with the prefix (the end of a run, or the leftovers of a crashed one). */
export async function dropDatabasesStartingWith(url: string, prefix: string): Promise<void> {
  const names = await admin(url, async (client) => {
    const result = await client.query<{ datname: string }>(
      'select datname from pg_database where datname like $1',
      [`${prefix}%`],
    );
    return result.rows.map((row) => row.datname);
  });
  for (const name of names) await dropDatabase(url, name);
}

/** Tells the workers which template to copy. */
export function setTemplate(name: string): void {
  process.env[TEMPLATE_VARIABLE] = name;
}

let copies = 0;

/**
 * A fresh database for one test app, copied from the run's migrated template (a file copy on the server, much
 * faster than migrating), and a function that drops it. Each app sees only its own rows, as with `:memory:`.
 */
export async function freshDatabase(url: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const template = process.env[TEMPLATE_VARIABLE];
  if (template === undefined) throw new Error('the PostgreSQL template was not created: run through jest');
  copies += 1;
  const name = `${template}_${process.pid}_${copies}`;
  await createDatabase(url, name, template);
  return { url: withDatabase(url, name), drop: () => dropDatabase(url, name) };
}

/**
 * An empty database of its own on the run's server, for a suite that migrates it itself (several instances, a
 * suite that terminates its backends): `url` to connect, `name` for pg_stat_activity, `drop` when done.
 */
export async function scratchDatabase(
  purpose: string,
): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  const server = postgresServerUrl();
  const name = `${newRunPrefix()}_${purpose}`;
  await createDatabase(server, name);
  return { url: withDatabase(server, name), name, drop: () => dropDatabase(server, name) };
}
