// `npm run migrate`: applies pending migrations and exits, for deployments that migrate before rolling out.
import 'reflect-metadata';
import { ConfigError, loadConfig, loadEnvFile } from './config';
import { openDatabase } from './database';

async function migrate(): Promise<void> {
  loadEnvFile();
  const { orm, appliedMigrations } = await openDatabase(loadConfig());
  await orm.close();
  console.error(
    appliedMigrations.length === 0 ? 'no pending migrations' : `applied ${appliedMigrations.join(', ')}`,
  );
}

migrate().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : `migration failed: ${String(error)}`);
  process.exit(1);
});
