// A durable mail outbox: emails are written with the change that causes them and sent by a worker with retries.
import { Migration } from '@mikro-orm/migrations';

/** Creates `mail_outbox` (see OutboxMail) with the index the worker claims by and the one the clean-up uses. */
export class Migration20261204100000 extends Migration {
  override up(): Promise<void> {
    this.addSql(
      'create table "mail_outbox" ("id" serial primary key, "kind" varchar(32) not null, "recipient" varchar(254) not null, "subject" varchar(200) not null, "body" text null, "status" varchar(16) not null, "attempts" int not null, "created_at" timestamptz not null, "next_attempt_at" timestamptz not null, "claimed_until" timestamptz null, "expires_at" timestamptz not null, "last_error" varchar(64) null, "failed_at" timestamptz null, "request_id" varchar(64) null);',
    );
    this.addSql('create index "mail_outbox_failed_at_index" on "mail_outbox" ("failed_at");');
    this.addSql(
      'create index "mail_outbox_status_next_attempt_at_index" on "mail_outbox" ("status", "next_attempt_at");',
    );
    return Promise.resolve();
  }
}
