// The `password_reset_tokens` table as a MikroORM entity: each outstanding reset token of an account, by its hash.
import { Entity, Index, ManyToOne, PrimaryKey, Property } from '@mikro-orm/core';
import { User } from './user.entity';

/**
 * One reset token an account's owner may use. An account may hold several at once: a stranger asking for a reset
 * of someone else's account adds a token to that account but never voids the one its owner already holds. Using
 * any of them, or changing the password, ends them all. Only the token's SHA-256 is stored, so a leaked database
 * yields no usable token.
 */
@Entity({ tableName: 'password_reset_tokens' })
export class PasswordResetToken {
  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number;

  // Deleting a user deletes their reset tokens in the database itself.
  @ManyToOne(() => User, { deleteRule: 'cascade', index: true })
  user: User;

  /** SHA-256 (hex) of the token, never the token itself. */
  @Property({ type: 'string', length: 64, unique: true, hidden: true })
  tokenHash: string;

  @Property({ type: 'datetime' })
  createdAt: Date;

  // Indexed for the clean-up, which deletes by expiry.
  @Index()
  @Property({ type: 'datetime' })
  expiresAt: Date;

  constructor(user: User, tokenHash: string, createdAt: Date, expiresAt: Date) {
    this.user = user;
    this.tokenHash = tokenHash;
    this.createdAt = createdAt;
    this.expiresAt = expiresAt;
  }
}
