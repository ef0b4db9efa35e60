// Account emails become single mailboxes: canonical forms, and a table listing the accounts that cannot have one.
import { Migration } from '@mikro-orm/migrations';
import { canonicaliseEmails } from '../helpers/mailbox-emails';

/** Creates `nonconforming_emails` and brings every stored email to its canonical mailbox form where it can. */
export class Migration20261203110000 extends Migration {
  override async up(): Promise<void> {
    await this.execute(
      'create table `nonconforming_emails` (`user_id` integer not null primary key, `email` text not null, `problem` text not null, `found_at` datetime not null, constraint `nonconforming_emails_user_id_foreign` foreign key(`user_id`) references `users`(`id`) on delete cascade on update cascade);',
    );
    await this.execute(
      'create index `nonconforming_emails_user_id_index` on `nonconforming_emails` (`user_id`);',
    );
    await canonicaliseEmails((sql, params) => this.execute(sql, params));
  }
}
