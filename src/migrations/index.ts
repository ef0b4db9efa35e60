// The ordered list of committed migrations; add each new migration here (see README "Migrations").
import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261127063929 } from './Migration20261127063929';
import { Migration20261127094330 } from './Migration20261127094330';

/** Every migration, oldest first. The name is what the migrations table records: never change one. */
export const migrationsList: MigrationObject[] = [
  { name: 'Migration20261127063929', class: Migration20261127063929 },
  { name: 'Migration20261127094330', class: Migration20261127094330 },
];
