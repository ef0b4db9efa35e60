// The `mail_outbox` table as a MikroORM entity: each email the service owes someone, until it is sent or given up.
import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/core';
import { EMAIL_MAX_LENGTH } from './user.entity';

/** A mail still to send, or one given up on (kept, without its text, for the operator to see). */
export type OutboxStatus = 'pending' | 'failed';

/** Longest subject the service writes, with room to spare. */
export const OUTBOX_SUBJECT_MAX_LENGTH = 200;

/**
 * One email, written in the same transaction as the change it tells of, so that a change cannot commit without
 * its mail or a mail go out for a change that rolled back. A worker sends it and then deletes the row; a mail
 * that cannot be delivered stays as `failed` with its body wiped and the reason. The body of a reset mail holds
 * a live reset token, which is why it lives only until the mail is sent, fails for good or expires with the token.
 */
@Entity({ tableName: 'mail_outbox' })
// The worker's question is always "which pending mail is due first?": one index answers it.
@Index({ properties: ['status', 'nextAttemptAt'] })
export class OutboxMail {
  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number;

  /** What the mail is (`reset`, `reset notice`, `change notice`): for logs and the operator, never shown to users. */
  @Property({ type: 'string', length: 32 })
  kind: string;

  /** Exactly one canonical mailbox, the account's email when the mail was written. */
  @Property({ type: 'string', length: EMAIL_MAX_LENGTH })
  recipient: string;

  @Property({ type: 'string', length: OUTBOX_SUBJECT_MAX_LENGTH })
  subject: string;

  /** The plain text; null once the mail has failed for good (a reset token must not outlive its purpose). */
  @Property({ type: 'text', nullable: true, hidden: true })
  body: string | null;

  @Property({ type: 'string', length: 16 })
  status: OutboxStatus = 'pending';

  /** Delivery attempts started so far (a claim counts as one). */
  @Property({ type: 'integer' })
  attempts = 0;

  @Property({ type: 'datetime' })
  createdAt: Date;

  /** Not before this time: the back-off after a temporary failure. */
  @Property({ type: 'datetime' })
  nextAttemptAt: Date;

  /** While in the future, one worker holds the mail; past it, a worker that died while sending has let it go. */
  @Property({ type: 'datetime', nullable: true })
  claimedUntil: Date | null = null;

  /** After this the mail is pointless (a reset link that no longer works) and is given up instead of sent. */
  @Property({ type: 'datetime' })
  expiresAt: Date;

  /** The last failure's code (ECONNECTION, SMTP_550, EXPIRED, ...), never the server's text, which may quote us. */
  @Property({ type: 'string', length: 64, nullable: true })
  lastError: string | null = null;

  /** When the mail was given up on (status `failed`); the clean-up removes failed mail by this time. */
  @Index()
  @Property({ type: 'datetime', nullable: true })
  failedAt: Date | null = null;

  /** The id of the request that caused the mail, so its log lines can be traced back to that request. */
  @Property({ type: 'string', length: 64, nullable: true })
  requestId: string | null;

  constructor(fields: {
    kind: string;
    recipient: string;
    subject: string;
    body: string;
    createdAt: Date;
    expiresAt: Date;
    requestId: string | null;
  }) {
    this.kind = fields.kind;
    this.recipient = fields.recipient;
    this.subject = fields.subject;
    this.body = fields.body;
    this.createdAt = fields.createdAt;
    this.nextAttemptAt = fields.createdAt;
    this.expiresAt = fields.expiresAt;
    this.requestId = fields.requestId;
  }
}
