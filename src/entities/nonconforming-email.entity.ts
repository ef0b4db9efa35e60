// The `nonconforming_emails` table as a MikroORM entity: accounts whose stored email is not one canonical mailbox.
import { Entity, ManyToOne, Property } from '@mikro-orm/core';
import { EMAIL_MAX_LENGTH, User } from './user.entity';

/**
 * An account the mailbox migration could not give a canonical email: its email is not one mailbox
 * (`x<victim@corp.example>`, a list, a comment) or is a lookalike of another account's. Its owner can still sign
 * in, but no mail is sent to it while `email` is still what the account holds (docs/security.md, "Account security").
 */
@Entity({ tableName: 'nonconforming_emails' })
export class NonconformingEmail {
  // One row per account, gone with it.
  @ManyToOne(() => User, { primary: true, deleteRule: 'cascade' })
  user!: User;

  /** The email as the migration found it. */
  @Property({ type: 'string', length: EMAIL_MAX_LENGTH })
  email!: string;

  /** Why it is not a canonical mailbox, in the words registration would have refused it with. */
  @Property({ type: 'string', length: 255 })
  problem!: string;

  @Property({ type: 'datetime' })
  foundAt!: Date;
}
