// A durable mail outbox: emails are written with the change that causes them and sent by a worker with retries.
import { Migration } from '@mikro-orm/migrations';

/** Creates `mail_outbox` (see OutboxMail) with the index the worker claims by and the one the clean-up uses. */
export class Migration20261204100000 extends Migration {
  override up(): Promise<void> {
    this.addSql(
      'create table `mail_outbox` (`id` integer not null primary key autoincrement, `kind` text not null, `recipient` text not null, `subject` text not null, `body` text null, `status` text not null, `attempts` integer not null, `created_at` datetime not null, `next_attempt_at` datetime not null, `claimed_until` datetime null, `expires_at` datetime not null, `last_error` text null, `failed_at` datetime null, `request_id` text null);',
    );
    this.addSql('create index `mail_outbox_failed_at_index` on `mail_outbox` (`failed_at`);');
    this.addSql(
      'create index `mail_outbox_status_next_attempt_at_index` on `mail_outbox` (`status`, `next_attempt_at`);',
    );
    return Promise.resolve();
  }
}
