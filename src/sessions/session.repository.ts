// Writes of the `sessions` table through the ORM: creating and ending sessions, and the sliding-expiry touch.
import { randomBytes } from 'node:crypto';
import { SqlEntityRepository, type SqlEntityManager } from '@mikro-orm/knex';
import { Session } from '../entities/session.entity';
import { User } from '../entities/user.entity';

/** 16 random bytes: unguessable, and 22 characters in base64url. */
const PUBLIC_ID_BYTES = 16;

/**
 * Repository for sessions, bound to one EntityManager (a fork or a transaction).
 * The authenticated read is not here but in SessionStore, which owns the hot path.
 */
export class SessionRepository extends SqlEntityRepository<Session> {
  constructor(em: SqlEntityManager) {
    super(em, Session);
  }

  /** Stores a new session for a user; only the token's hash is given, never the token. */
  async createSession(
    userId: number,
    tokenHash: string,
    createdAt: Date,
    expiresAt: Date,
    device: { userAgent: string | null; ip: string | null },
  ): Promise<Session> {
    const publicId = randomBytes(PUBLIC_ID_BYTES).toString('base64url');
    const session = new Session(this.em.getReference(User, userId), tokenHash, createdAt, expiresAt, {
      publicId,
      ...device,
    });
    await this.em.persistAndFlush(session);
    return session;
  }

  /** A user's sessions that have not expired, newest first. */
  listForUser(userId: number, now: Date): Promise<Session[]> {
    return this.find(
      { user: userId, expiresAt: { $gt: now } },
      { orderBy: { createdAt: 'desc', id: 'desc' } },
    );
  }

  /** Ends the session with this public id if it is this user's; returns how many ended (0 or 1). */
  deleteByPublicId(userId: number, publicId: string): Promise<number> {
    return this.nativeDelete({ user: userId, publicId });
  }

  /**
   * Ends every session of a user; returns how many were live. Expired rows the clean-up has not reached yet go
   * too, but are not counted: to the user they were already gone.
   */
  async deleteAllForUserCountingLive(userId: number, now: Date): Promise<number> {
    const live = await this.nativeDelete({ user: userId, expiresAt: { $gt: now } });
    await this.nativeDelete({ user: userId });
    return live;
  }

  /** Ends every session of a user but one; returns how many ended. */
  deleteAllForUserExcept(userId: number, keepSessionId: number): Promise<number> {
    return this.nativeDelete({ user: userId, id: { $ne: keepSessionId } });
  }

  /** Deletes up to `limit` sessions that expired before `now`; returns how many. */
  async deleteExpired(now: Date, limit: number): Promise<number> {
    const expired = await this.find({ expiresAt: { $lte: now } }, { fields: ['id'], limit });
    if (expired.length === 0) return 0;
    return this.nativeDelete({ id: { $in: expired.map((session) => session.id) } });
  }

  /** Records a use of the session and its new expiry. */
  async touch(sessionId: number, lastSeenAt: Date, expiresAt: Date): Promise<void> {
    await this.nativeUpdate({ id: sessionId }, { lastSeenAt, expiresAt });
  }

  /** Ends the session with this id; returns how many ended (0 or 1). */
  deleteById(sessionId: number): Promise<number> {
    return this.nativeDelete({ id: sessionId });
  }

  /** Ends every session of a user; returns how many ended. */
  deleteAllForUser(userId: number): Promise<number> {
    return this.nativeDelete({ user: userId });
  }
}
