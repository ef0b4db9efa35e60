// Account emails become single mailboxes: canonical forms, and a table listing the accounts that cannot have one.
import { Migration } from '@mikro-orm/migrations';
import { canonicaliseEmails } from '../helpers/mailbox-emails';

/** Creates `nonconforming_emails` and brings every stored email to its canonical mailbox form where it can. */
export class Migration20261203110000 extends Migration {
  override async up(): Promise<void> {
    await this.execute(
      'create table "nonconforming_emails" ("user_id" int not null primary key, "email" varchar(254) not null, "problem" varchar(255) not null, "found_at" timestamptz not null);',
    );
    await this.execute(
      'alter table "nonconforming_emails" add constraint "nonconforming_emails_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;',
    );
    await canonicaliseEmails((sql, params) => this.execute(sql, params));
  }
}
