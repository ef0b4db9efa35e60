// Account security: the security_events table, and each session's public id, user agent and address.
import { Migration } from '@mikro-orm/migrations';

/**
 * Adds `security_events`, and `public_id`, `user_agent`, `ip` to `sessions`. SQLite cannot add a NOT NULL column
 * to a table with rows, so `sessions` is rebuilt: existing sessions are kept (nobody is signed out by the upgrade)
 * and each gets a random public id, 16 bytes as 32 hex characters.
 */
export class Migration20261127094330 extends Migration {
  override up(): Promise<void> {
    this.addSql(
      'create table `security_events` (`id` integer not null primary key autoincrement, `created_at` datetime not null, `type` text not null, `user_id` integer null, `email` text null, `ip` text null, `user_agent` text null, `reason` text null);',
    );
    this.addSql('create index `security_events_created_at_index` on `security_events` (`created_at`);');
    this.addSql(
      'create index `security_events_user_id_created_at_index` on `security_events` (`user_id`, `created_at`);',
    );

    this.addSql(
      'create table `sessions_new` (`id` integer not null primary key autoincrement, `user_id` integer not null, `public_id` text not null, `user_agent` text null, `ip` text null, `token_hash` text not null, `created_at` datetime not null, `expires_at` datetime not null, `last_seen_at` datetime not null, constraint `sessions_user_id_foreign` foreign key(`user_id`) references `users`(`id`) on delete cascade on update cascade);',
    );
    this.addSql(
      'insert into `sessions_new` (`id`, `user_id`, `public_id`, `user_agent`, `ip`, `token_hash`, `created_at`, `expires_at`, `last_seen_at`) ' +
        'select `id`, `user_id`, lower(hex(randomblob(16))), null, null, `token_hash`, `created_at`, `expires_at`, `last_seen_at` from `sessions`;',
    );
    this.addSql('drop table `sessions`;');
    this.addSql('alter table `sessions_new` rename to `sessions`;');
    this.addSql('create index `sessions_user_id_index` on `sessions` (`user_id`);');
    this.addSql('create unique index `sessions_public_id_unique` on `sessions` (`public_id`);');
    this.addSql('create unique index `sessions_token_hash_unique` on `sessions` (`token_hash`);');
    return Promise.resolve();
  }
}
