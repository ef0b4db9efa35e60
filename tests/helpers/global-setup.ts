// Jest global setup: makes the production build once, and with TEST_DATABASE_URL migrates a PostgreSQL template.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { createDatabase, newRunPrefix, setTemplate, testDatabaseUrl, withDatabase } from './postgres';

/**
 * Runs what `npm run build` runs: `tsc -p tsconfig.build.json` (incremental: fast when nothing changed) and the
 * playground bundle (esbuild, a few seconds), so end-to-end tests run the real `node dist/src/main.js` and every
 * app with the playground on finds its files. When TEST_DATABASE_URL is set, also creates this run's template
 * database, migrated once; every test app then gets its own copy (see tests/helpers/postgres.ts), dropped by the
 * global teardown.
 */
export default async function globalSetup(): Promise<void> {
  const root = join(__dirname, '..', '..');
  // A run started by another run's test (tests/e2e/bare-machine.test.ts) finds the build made already; building
  // again would rewrite files the outer run's servers may be reading.
  if (process.env.AUTH_TEST_BUILT === 'true') return prepareDatabase(root);
  execFileSync(
    process.execPath,
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
    { cwd: root, stdio: 'inherit' },
  );
  execFileSync(process.execPath, [join(root, 'scripts', 'build-playground.mjs')], {
    cwd: root,
    stdio: 'inherit',
  });
  await prepareDatabase(root);
}

/** With TEST_DATABASE_URL, creates and migrates this run's template database. */
async function prepareDatabase(root: string): Promise<void> {
  const url = testDatabaseUrl();
  if (url === undefined) return;
  const template = `${newRunPrefix()}_tpl`;
  await createDatabase(url, template);
  // Migrated by the built `npm run migrate` in its own process: loading the entities here would register their
  // metadata in this process's realm, which jest shares with tests run in band, and MikroORM then breaks there.
  execFileSync(process.execPath, [join(root, 'dist', 'src', 'migrate.js')], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, DATABASE_URL: withDatabase(url, template), NODE_ENV: 'test' },
  });
  setTemplate(template);
}
