// Jest global teardown: drops the PostgreSQL databases this run created (template and copies), if any.
import { dropDatabasesStartingWith, testDatabaseUrl } from './postgres';

/** Drops every database of this run: they all start with the template's prefix. */
export default async function globalTeardown(): Promise<void> {
  const url = testDatabaseUrl();
  const template = process.env.AUTH_TEST_PG_TEMPLATE;
  if (url === undefined || template === undefined) return;
  await dropDatabasesStartingWith(url, template.replace(/_tpl$/, ''));
}
