// Writes of the `sessions` table through the ORM: creating and ending sessions, and the sliding-expiry touch.
import { SqlEntityRepository, type SqlEntityManager } from '@mikro-orm/knex';
import { Session } from '../entities/session.entity';
import { User } from '../entities/user.entity';

/**
 * Repository for sessions, bound to one EntityManager (a fork or a transaction).
 * The authenticated read is not here but in SessionStore, which owns the hot path.
 */
export class SessionRepository extends SqlEntityRepository<Session> {
  constructor(em: SqlEntityManager) {
    super(em, Session);
  }

  /** Stores a new session for a user; only the token's hash is given, never the token. */
  async createSession(userId: number, tokenHash: string, createdAt: Date, expiresAt: Date): Promise<Session> {
    const session = new Session(this.em.getReference(User, userId), tokenHash, createdAt, expiresAt);
    await this.em.persistAndFlush(session);
    return session;
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
