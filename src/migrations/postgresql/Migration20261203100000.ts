// Hardening: several reset tokens per account in their own table, and a count on security events (aggregated refusals).
import { Migration } from '@mikro-orm/migrations';

/**
 * Moves reset tokens out of `users` into `password_reset_tokens`, so that a new request no longer voids the token
 * an owner already holds; a token outstanding at the upgrade is kept and stays usable until it expires. Adds
 * `count` to `security_events`: a refused burst is recorded once a window with how many refusals it had.
 */
export class Migration20261203100000 extends Migration {
  override up(): Promise<void> {
    this.addSql(
      'create table "password_reset_tokens" ("id" serial primary key, "user_id" int not null, "token_hash" varchar(64) not null, "created_at" timestamptz not null, "expires_at" timestamptz not null);',
    );
    this.addSql('create index "password_reset_tokens_user_id_index" on "password_reset_tokens" ("user_id");');
    this.addSql(
      'alter table "password_reset_tokens" add constraint "password_reset_tokens_token_hash_unique" unique ("token_hash");',
    );
    this.addSql(
      'create index "password_reset_tokens_expires_at_index" on "password_reset_tokens" ("expires_at");',
    );
    this.addSql(
      'alter table "password_reset_tokens" add constraint "password_reset_tokens_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;',
    );
    // The issue time was not kept before; the row's last update is when the token was written, or later.
    this.addSql(
      'insert into "password_reset_tokens" ("user_id", "token_hash", "created_at", "expires_at") ' +
        'select "id", "reset_token", "updated_at", "reset_token_expires_at" from "users" ' +
        'where "reset_token" is not null and "reset_token_expires_at" is not null;',
    );
    // Dropping the column drops its index with it.
    this.addSql('alter table "users" drop column "reset_token", drop column "reset_token_expires_at";');

    this.addSql('alter table "security_events" add column "count" int not null default 1;');
    return Promise.resolve();
  }
}
