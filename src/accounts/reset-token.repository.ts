// Reads and writes of the `password_reset_tokens` table: issuing, checking, consuming and clearing reset tokens.
import { SqlEntityRepository, type SqlEntityManager } from '@mikro-orm/knex';
import { PasswordResetToken } from '../entities/password-reset-token.entity';
import { User } from '../entities/user.entity';

/**
 * Repository for reset tokens, bound to one EntityManager (a fork or a transaction). Only hashes pass through it.
 */
export class ResetTokenRepository extends SqlEntityRepository<PasswordResetToken> {
  constructor(em: SqlEntityManager) {
    super(em, PasswordResetToken);
  }

  /**
   * Stores a new token for a user, then keeps only the `keepAtMost` newest of the user's tokens, so that nothing
   * (not even RATE_LIMIT=off) lets one account collect rows without bound.
   */
  async issue(
    userId: number,
    tokenHash: string,
    now: Date,
    expiresAt: Date,
    keepAtMost: number,
  ): Promise<void> {
    await this.em.persistAndFlush(
      new PasswordResetToken(this.em.getReference(User, userId), tokenHash, now, expiresAt),
    );
    const surplus = await this.find(
      { user: userId },
      { fields: ['id'], orderBy: { id: 'desc' }, offset: keepAtMost, limit: keepAtMost },
    );
    if (surplus.length > 0) await this.nativeDelete({ id: { $in: surplus.map((token) => token.id) } });
  }

  /** Whether this user holds this token and it has not expired. */
  async isLive(userId: number, tokenHash: string, now: Date): Promise<boolean> {
    return (await this.count({ user: userId, tokenHash, expiresAt: { $gt: now } })) === 1;
  }

  /**
   * Deletes the token if, and only if, it is this user's and unexpired: one conditional DELETE, so of two requests
   * racing with one token the database lets exactly one delete it. Run inside the transaction that sets the new
   * password, after that transaction has locked the user's row (see AccountService.resetPassword).
   * @returns whether the token was consumed.
   */
  async consume(userId: number, tokenHash: string, now: Date): Promise<boolean> {
    return (await this.nativeDelete({ user: userId, tokenHash, expiresAt: { $gt: now } })) === 1;
  }

  /** Ends every reset token of a user (the password was just reset or changed); returns how many. */
  deleteAllForUser(userId: number): Promise<number> {
    return this.nativeDelete({ user: userId });
  }

  /** Deletes up to `limit` tokens that expired before `now`; returns how many. */
  async deleteExpired(now: Date, limit: number): Promise<number> {
    const expired = await this.find({ expiresAt: { $lte: now } }, { fields: ['id'], limit });
    if (expired.length === 0) return 0;
    return this.nativeDelete({ id: { $in: expired.map((token) => token.id) } });
  }
}
