// The ordered lists of committed migrations, one per dialect; add each new migration to its list.
import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261127120000 } from './postgresql/Migration20261127120000';
import { Migration20261127130000 } from './postgresql/Migration20261127130000';
import { Migration20261203100000 as PostgresqlMigration20261203100000 } from './postgresql/Migration20261203100000';
import { Migration20261203110000 as PostgresqlMigration20261203110000 } from './postgresql/Migration20261203110000';
import { Migration20261204100000 as PostgresqlMigration20261204100000 } from './postgresql/Migration20261204100000';
import { Migration20261127063929 } from './sqlite/Migration20261127063929';
import { Migration20261127094330 } from './sqlite/Migration20261127094330';
import { Migration20261203100000 as SqliteMigration20261203100000 } from './sqlite/Migration20261203100000';
import { Migration20261203110000 as SqliteMigration20261203110000 } from './sqlite/Migration20261203110000';
import { Migration20261204100000 as SqliteMigration20261204100000 } from './sqlite/Migration20261204100000';

/** SQLite's migrations, oldest first. The name is what the migrations table records: never change one. */
const SQLITE_MIGRATIONS: MigrationObject[] = [
  { name: 'Migration20261127063929', class: Migration20261127063929 },
  { name: 'Migration20261127094330', class: Migration20261127094330 },
  { name: 'Migration20261203100000', class: SqliteMigration20261203100000 },
  { name: 'Migration20261203110000', class: SqliteMigration20261203110000 },
  { name: 'Migration20261204100000', class: SqliteMigration20261204100000 },
];

/** PostgreSQL's migrations, oldest first. PostgreSQL support started at today's schema. */
const POSTGRESQL_MIGRATIONS: MigrationObject[] = [
  { name: 'Migration20261127120000', class: Migration20261127120000 },
  { name: 'Migration20261127130000', class: Migration20261127130000 },
  { name: 'Migration20261203100000', class: PostgresqlMigration20261203100000 },
  { name: 'Migration20261203110000', class: PostgresqlMigration20261203110000 },
  { name: 'Migration20261204100000', class: PostgresqlMigration20261204100000 },
];

/** The migrations of a dialect, oldest first. */
export function migrationsFor(dialect: 'sqlite' | 'postgresql'): MigrationObject[] {
  return dialect === 'postgresql' ? POSTGRESQL_MIGRATIONS : SQLITE_MIGRATIONS;
}
