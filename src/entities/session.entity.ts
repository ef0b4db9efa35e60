// The `sessions` table as a MikroORM entity: one row per signed-in device, found by the hash of its cookie.
import { Entity, ManyToOne, PrimaryKey, Property } from '@mikro-orm/core';
import { User } from './user.entity';

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

  constructor(user: User, tokenHash: string, createdAt: Date, expiresAt: Date) {
    this.user = user;
    this.tokenHash = tokenHash;
    this.createdAt = createdAt;
    this.lastSeenAt = createdAt;
    this.expiresAt = expiresAt;
  }
}
