// The `users` table as a MikroORM entity: one row per account, holding only hashes of secrets.
import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/core';

/** Longest email we accept (RFC 5321's path limit leaves 254 characters for an address). */
export const EMAIL_MAX_LENGTH = 254;

/**
 * An account. `hashedPassword` is a bcrypt hash and `resetToken` the SHA-256 of a reset token:
 * a leaked database reveals neither a password nor a usable token.
 */
@Entity({ tableName: 'users' })
export class User {
  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number;

  /** Stored normalised (trimmed, lower-case), so the unique index compares what users mean. */
  @Property({ type: 'string', length: EMAIL_MAX_LENGTH, unique: true })
  email: string;

  // `hidden` keeps the hash out of every serialisation of the entity, as a second line behind our own mapping.
  @Property({ type: 'string', length: 255, hidden: true })
  hashedPassword: string;

  /** SHA-256 (hex) of the outstanding reset token, never the token itself. */
  @Index()
  @Property({ type: 'string', length: 64, nullable: true, hidden: true })
  resetToken: string | null = null;

  @Property({ type: 'datetime', nullable: true, hidden: true })
  resetTokenExpiresAt: Date | null = null;

  @Property({ type: 'datetime' })
  createdAt: Date;

  @Property({ type: 'datetime', onUpdate: () => new Date() })
  updatedAt: Date;

  constructor(email: string, hashedPassword: string, now: Date = new Date()) {
    this.email = email;
    this.hashedPassword = hashedPassword;
    this.createdAt = now;
    this.updatedAt = now;
  }
}
