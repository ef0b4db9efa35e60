// PostgreSQL's initial schema: users, sessions and security_events as the entities define them today.
import { Migration } from '@mikro-orm/migrations';

/** Creates the three tables with their unique and lookup indexes (sessions cascade-delete with their user). */
export class Migration20261127120000 extends Migration {
  override up(): Promise<void> {
    this.addSql(
      'create table "users" ("id" serial primary key, "email" varchar(254) not null, "hashed_password" varchar(255) not null, "reset_token" varchar(64) null, "reset_token_expires_at" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null);',
    );
    this.addSql('alter table "users" add constraint "users_email_unique" unique ("email");');
    this.addSql('create index "users_reset_token_index" on "users" ("reset_token");');

    this.addSql(
      'create table "sessions" ("id" serial primary key, "user_id" int not null, "public_id" varchar(32) not null, "user_agent" varchar(512) null, "ip" varchar(64) null, "token_hash" varchar(64) not null, "created_at" timestamptz not null, "expires_at" timestamptz not null, "last_seen_at" timestamptz not null);',
    );
    this.addSql('create index "sessions_user_id_index" on "sessions" ("user_id");');
    this.addSql('alter table "sessions" add constraint "sessions_public_id_unique" unique ("public_id");');
    this.addSql('alter table "sessions" add constraint "sessions_token_hash_unique" unique ("token_hash");');
    this.addSql(
      'alter table "sessions" add constraint "sessions_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;',
    );

    this.addSql(
      'create table "security_events" ("id" serial primary key, "created_at" timestamptz not null, "type" varchar(40) not null, "user_id" int null, "email" varchar(254) null, "ip" varchar(64) null, "user_agent" varchar(512) null, "reason" varchar(40) null);',
    );
    this.addSql('create index "security_events_created_at_index" on "security_events" ("created_at");');
    this.addSql(
      'create index "security_events_user_id_created_at_index" on "security_events" ("user_id", "created_at");',
    );
    return Promise.resolve();
  }
}
