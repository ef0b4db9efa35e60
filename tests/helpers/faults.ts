// Database faults for tests: the tables of a running app disappear, as they would under a real fault.
import type { App } from '../../src/app';

/**
 * Drops the users table and every table that refers to it (children first, since PostgreSQL refuses to drop a
 * table others depend on), so every later query on accounts fails as a fault the code does not expect.
 */
export async function dropAccountTables(app: App): Promise<void> {
  const connection = app.orm.em.getConnection();
  for (const table of ['nonconforming_emails', 'password_reset_tokens', 'sessions', 'users']) {
    await connection.execute(`drop table ${table}`);
  }
}
