// MikroORM options for our entities and migrations, and opening (and migrating) the database at start.
import { defineConfig, MikroORM, type Options } from '@mikro-orm/sqlite';
import { Migrator } from '@mikro-orm/migrations';
import type { Config } from './config';
import { SecurityEvent } from './entities/security-event.entity';
import { Session } from './entities/session.entity';
import { User } from './entities/user.entity';
import { migrationsList } from './migrations';

/** A connection handed to knex's pool hook: node-sqlite3's Database. */
interface SqliteConnectionHandle {
  exec(sql: string, callback: (error: Error | null) => void): void;
}

/**
 * Pragmas for every SQLite connection. Foreign keys make the sessions' ON DELETE CASCADE real; WAL lets
 * readers proceed during a write; synchronous=FULL makes a committed registration survive even a power
 * loss (NORMAL would survive a crashed process only), a cost worth paying for account data;
 * busy_timeout waits out another process's write lock instead of failing at once.
 */
const SQLITE_FILE_PRAGMAS =
  'pragma foreign_keys = on; pragma journal_mode = wal; pragma synchronous = full; pragma busy_timeout = 5000;';
const SQLITE_MEMORY_PRAGMAS = 'pragma foreign_keys = on;';

/** MikroORM options for this configuration: used by the app and, through mikro-orm.config.ts, by the CLI. */
export function ormOptions(config: Config): Options {
  const { sqlitePath } = config.database;
  const pragmas = sqlitePath === ':memory:' ? SQLITE_MEMORY_PRAGMAS : SQLITE_FILE_PRAGMAS;
  return defineConfig({
    dbName: sqlitePath,
    entities: [User, Session, SecurityEvent],
    extensions: [Migrator],
    // Migrations are listed in code rather than found by a file glob, so the same list works from src/ under
    // ts-jest and from dist/ in production; `npm run migration:create` writes new ones into src/migrations.
    migrations: {
      path: './dist/src/migrations',
      pathTs: './src/migrations',
      migrationsList,
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      // The migrator would print to stdout past our logger; main logs what it applied instead.
      silent: true,
    },
    pool: {
      afterCreate: (connection: SqliteConnectionHandle, done: (error: Error | null, c: unknown) => void) => {
        connection.exec(pragmas, (error) => done(error, connection));
      },
    },
    // Entities are never loaded into a shared context by accident: every unit of work forks.
    allowGlobalContext: false,
    debug: false,
  });
}

/** A database opened for serving, and the names of the migrations this start applied. */
export interface OpenedDatabase {
  readonly orm: MikroORM;
  readonly appliedMigrations: readonly string[];
}

/** Opens the database and applies any pending migration, so a fresh file is ready to serve. */
export async function openDatabase(config: Config): Promise<OpenedDatabase> {
  const orm = await MikroORM.init(ormOptions(config));
  try {
    const applied = await orm.getMigrator().up();
    return { orm, appliedMigrations: applied.map((migration) => migration.name) };
  } catch (error) {
    await orm.close(true);
    throw error;
  }
}
