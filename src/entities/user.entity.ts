// The `users` table as a MikroORM entity: one row per account, holding only hashes of secrets.
import { Entity, PrimaryKey, Property } from '@mikro-orm/core';

/** Longest email we accept (RFC 5321's path limit leaves 254 characters for an address). */
export const EMAIL_MAX_LENGTH = 254;

/**
 * An account. `hashedPassword` is a bcrypt hash, so a leaked database reveals no password; its reset tokens live
 * in their own table (PasswordResetToken), as SHA-256 hashes.
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
