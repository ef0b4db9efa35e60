// MikroORM options for our entities and migrations, and opening (and migrating) the database at start.
import { MikroORM, type Options } from '@mikro-orm/core';
import type { AbstractSqlDriver } from '@mikro-orm/knex';
import { Migrator } from '@mikro-orm/migrations';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { SqliteDriver } from '@mikro-orm/sqlite';
import type { Config } from '../config';
import { NonconformingEmail } from '../entities/nonconforming-email.entity';
import { OutboxMail } from '../entities/outbox-mail.entity';
import { PasswordResetToken } from '../entities/password-reset-token.entity';
import { SecurityEvent } from '../entities/security-event.entity';
import { Session } from '../entities/session.entity';
import { User } from '../entities/user.entity';
import { migrationsFor } from '../migrations';
import type { Logger } from '../shared';

/** The ORM as the app uses it: one of the SQL drivers, so the entity manager is always a SqlEntityManager. */
export type Orm = MikroORM<AbstractSqlDriver>;

/**
 * The key of the PostgreSQL advisory lock held while migrating, so that instances starting together migrate one
 * after another: the first applies what is pending, the others then find nothing left to do. Any constant works
 * as long as nothing else on the server uses it; this one is "auth" in ASCII.
 */
const MIGRATION_LOCK_KEY = 0x61757468;

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

/** Where the database driver's own warnings go (knex's "Connection Error: ..."), instead of the console. */
export type DriverLog = (message: string) => void;

/**
 * A PostgreSQL query that gets no answer for this long fails (503 SERVICE_UNAVAILABLE) rather than hold its
 * request until the 30 s handler timeout: a server that accepts connections and then says nothing (a hung proxy,
 * a frozen host) looks like this. Every statement this service runs is an index probe or a bounded batch, far
 * below it.
 */
const POSTGRES_QUERY_TIMEOUT_MS = 10_000;

/**
 * MikroORM options for this configuration: used by the app and, through mikro-orm.config.ts, by the CLI.
 * `driverLog` receives the driver's warnings; without it they go to knex's default, the console.
 */
export function ormOptions(config: Config, driverLog?: DriverLog): Options {
  const { database } = config;
  const common = {
    entities: [User, Session, PasswordResetToken, SecurityEvent, NonconformingEmail, OutboxMail],
    extensions: [Migrator],
    // Migrations are listed in code rather than found by a file glob, so the same list works from src/ under
    // ts-jest and from dist/ in production; each dialect has its own list (SQL differs between them).
    migrations: {
      path: `./dist/src/migrations/${database.dialect}`,
      pathTs: `./src/migrations/${database.dialect}`,
      migrationsList: migrationsFor(database.dialect),
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      // The migrator would print to stdout past our logger; main logs what it applied instead.
      silent: true,
    },
    // Entities are never loaded into a shared context by accident: every unit of work forks.
    allowGlobalContext: false,
    debug: false,
  } satisfies Options;
  if (database.dialect === 'postgresql') {
    return {
      ...common,
      driver: PostgreSqlDriver,
      clientUrl: database.url,
      // Bounded waits, so an unreachable server answers 503 SERVICE_UNAVAILABLE in seconds: knex would wait 60 s
      // for a pooled connection, and pg has no connect timeout at all.
      pool: { acquireTimeoutMillis: 5_000 },
      driverOptions: {
        connection: { connectionTimeoutMillis: 3_000, query_timeout: POSTGRES_QUERY_TIMEOUT_MS },
        // knex prints connection failures with console.log, outside the JSON logs an operator collects.
        ...(driverLog === undefined
          ? {}
          : { log: { warn: driverLog, error: driverLog, deprecate: driverLog, debug: () => undefined } }),
      },
    };
  }
  const { sqlitePath } = database;
  const pragmas = sqlitePath === ':memory:' ? SQLITE_MEMORY_PRAGMAS : SQLITE_FILE_PRAGMAS;
  return {
    ...common,
    driver: SqliteDriver,
    dbName: sqlitePath,
    pool: {
      afterCreate: (connection: SqliteConnectionHandle, done: (error: Error | null, c: unknown) => void) => {
        connection.exec(pragmas, (error) => done(error, connection));
      },
    },
  };
}

/** A database opened for serving, and the names of the migrations this start applied. */
export interface OpenedDatabase {
  readonly orm: Orm;
  readonly appliedMigrations: readonly string[];
}

/** Opens the ORM for a configuration without migrating. */
export async function initOrm(config: Config, driverLog?: DriverLog): Promise<Orm> {
  return (await MikroORM.init(ormOptions(config, driverLog))) as unknown as Orm;
}

/**
 * Applies pending migrations. On PostgreSQL, under a transaction-scoped advisory lock: two instances starting at
 * once would otherwise both see a migration pending and both apply it. The lock ends with the transaction.
 */
async function migrate(orm: Orm, config: Config): Promise<string[]> {
  const migrator = orm.getMigrator();
  if (config.database.dialect !== 'postgresql') {
    return (await migrator.up()).map((migration) => migration.name);
  }
  const knex = orm.em.getConnection().getKnex();
  return knex.transaction(async (transaction) => {
    await transaction.raw('select pg_advisory_xact_lock(?)', [MIGRATION_LOCK_KEY]);
    const applied = await migrator.up({ transaction });
    return applied.map((migration) => migration.name);
  });
}

/** Opens the database and applies any pending migration, so a fresh database is ready to serve. */
export async function openDatabase(config: Config, driverLog?: DriverLog): Promise<OpenedDatabase> {
  const orm = await initOrm(config, driverLog);
  try {
    return { orm, appliedMigrations: await migrate(orm, config) };
  } catch (error) {
    await orm.close(true);
    throw error;
  }
}

/**
 * The ids of accounts the mailbox migration listed whose email is still the one it found: they get no mail until
 * an operator corrects them (docs/security.md, "Account security"). An id whose email was changed since is no longer listed.
 */
export async function nonconformingEmailUserIds(orm: Orm): Promise<number[]> {
  const em = orm.em.fork();
  const listed = await em.find(NonconformingEmail, {}, { populate: ['user'], orderBy: { user: 'asc' } });
  return listed.filter((row) => row.user.email === row.email).map((row) => row.user.id);
}

/**
 * Why the database keeps the instance from serving, or null: it must answer a query and have every migration
 * applied. What /readyz asks, after the cheaper checks.
 */
export async function databaseNotReadyReason(orm: Orm): Promise<string | null> {
  try {
    await orm.em.getConnection().execute('select 1');
  } catch {
    return 'database unreachable';
  }
  try {
    const pending = await orm.getMigrator().getPendingMigrations();
    return pending.length === 0 ? null : 'migrations pending';
  } catch {
    return 'database unreachable';
  }
}

/** How many account ids the start-up warning names; the table has them all. */
const MAX_LISTED_USER_IDS = 20;

/**
 * Says, at every start until fixed, which accounts get no reset mail or notice because their email is not a single
 * mailbox (the migration listed them in nonconforming_emails; README, "Account security").
 */
export async function warnOfNonconformingEmails(orm: Orm, log: Logger): Promise<void> {
  const nonconforming = await nonconformingEmailUserIds(orm);
  if (nonconforming.length === 0) return;
  log.warn(
    { accounts: nonconforming.length, userIds: nonconforming.slice(0, MAX_LISTED_USER_IDS) },
    'accounts whose email is not a single mailbox get no mail until corrected (table nonconforming_emails)',
  );
}
