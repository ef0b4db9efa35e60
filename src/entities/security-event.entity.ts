// The `security_events` table as a MikroORM entity: an append-only record of what happened to each account.
import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/core';
import { EMAIL_MAX_LENGTH } from './user.entity';

/** Every kind of event recorded. Stored as text: adding a kind needs no migration. */
export const SECURITY_EVENT_TYPES = [
  'REGISTERED',
  'LOGIN_SUCCEEDED',
  'LOGIN_FAILED',
  'LOGGED_OUT',
  'SESSION_REVOKED',
  'LOGGED_OUT_EVERYWHERE',
  'PASSWORD_RESET_REQUESTED',
  'PASSWORD_RESET_COMPLETED',
  'PASSWORD_CHANGED',
  'RATE_LIMITED',
] as const;

/** One kind of security event. */
export type SecurityEventType = (typeof SECURITY_EVENT_TYPES)[number];

/** Longest user agent kept: enough to tell browsers apart, short enough that nobody can fill the table with one. */
export const USER_AGENT_MAX_LENGTH = 512;

/**
 * Something that happened to an account, or to an email that may be one: who (user id when known, normalised
 * email), from where (client address, user agent), what (type, and for failures a short reason code), when. Never
 * a password, hash or token. Rows are only ever inserted and, after the retention period, deleted.
 */
@Entity({ tableName: 'security_events' })
@Index({ properties: ['userId', 'createdAt'] })
export class SecurityEvent {
  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number;

  // Indexed for the retention clean-up, which deletes by age.
  @Index()
  @Property({ type: 'datetime' })
  createdAt: Date;

  @Property({ type: 'string', length: 40 })
  type: SecurityEventType;

  /** The account, when the event concerns a known one. Kept as a plain column: the log outlives nothing it names. */
  @Property({ type: 'integer', nullable: true })
  userId: number | null;

  /** The normalised email the request named, when it named a plausible one. */
  @Property({ type: 'string', length: EMAIL_MAX_LENGTH, nullable: true })
  email: string | null;

  @Property({ type: 'string', length: 64, nullable: true })
  ip: string | null;

  @Property({ type: 'string', length: USER_AGENT_MAX_LENGTH, nullable: true })
  userAgent: string | null;

  /** A short reason code for failures and refusals (WRONG_PASSWORD, UNKNOWN_EMAIL, ...), else null. */
  @Property({ type: 'string', length: 40, nullable: true })
  reason: string | null;

  /**
   * How many times it happened: 1 for everything but refusals, which are recorded once a window per client and
   * account with their count (createdAt is the first of them), so a flood of refused requests writes one row.
   */
  @Property({ type: 'integer', default: 1 })
  count: number;

  constructor(fields: Omit<SecurityEvent, 'id'>) {
    this.createdAt = fields.createdAt;
    this.type = fields.type;
    this.userId = fields.userId;
    this.email = fields.email;
    this.ip = fields.ip;
    this.userAgent = fields.userAgent;
    this.reason = fields.reason;
    this.count = fields.count;
  }
}
