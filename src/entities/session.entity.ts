// The `sessions` table as a MikroORM entity: one row per signed-in device, found by the hash of its cookie.
import { Entity, ManyToOne, PrimaryKey, Property } from '@mikro-orm/core';
import { User } from './user.entity';
import { USER_AGENT_MAX_LENGTH } from './security-event.entity';

/**
 * A signed-in device. The cookie holds a random token; only its SHA-256 is stored, so a leaked
 * database yields no usable session. A user may hold several (phone and laptop).
 */
@Entity({ tableName: 'sessions' })
export class Session {
  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number;

  // Deleting a user deletes their sessions in the database itself, so no orphan can outlive its account.
  @ManyToOne(() => User, { deleteRule: 'cascade', index: true })
  user: User;

  /**
   * The id a user sees in their list of sessions and revokes a session by: random and unrelated to the token, so
   * showing it (or leaking it) gives no way to use the session.
   */
  @Property({ type: 'string', length: 32, unique: true })
  publicId: string;

  /** The client's User-Agent at login (cut to 512 characters), to help its owner recognise the device. */
  @Property({ type: 'string', length: USER_AGENT_MAX_LENGTH, nullable: true })
  userAgent: string | null;

  /** The client address at login. */
  @Property({ type: 'string', length: 64, nullable: true })
  ip: string | null;

  /** SHA-256 (hex) of the cookie value. */
  @Property({ type: 'string', length: 64, unique: true, hidden: true })
  tokenHash: string;

  @Property({ type: 'datetime' })
  createdAt: Date;

  /** When the session stops being valid: min(last use + idle TTL, creation + absolute TTL). */
  @Property({ type: 'datetime' })
  expiresAt: Date;

  @Property({ type: 'datetime' })
  lastSeenAt: Date;

  constructor(
    user: User,
    tokenHash: string,
    createdAt: Date,
    expiresAt: Date,
    device: { publicId: string; userAgent: string | null; ip: string | null },
  ) {
    this.user = user;
    this.tokenHash = tokenHash;
    this.publicId = device.publicId;
    this.userAgent = device.userAgent;
    this.ip = device.ip;
    this.createdAt = createdAt;
    this.lastSeenAt = createdAt;
    this.expiresAt = expiresAt;
  }
}
