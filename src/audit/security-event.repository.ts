// The `security_events` table: appending events, reading a user's own, and deleting those past retention.
import { SqlEntityRepository, type SqlEntityManager } from '@mikro-orm/knex';
import { SecurityEvent } from '../entities/security-event.entity';

/** Repository for security events, bound to one EntityManager (a fork). Rows are inserted, read and aged out. */
export class SecurityEventRepository extends SqlEntityRepository<SecurityEvent> {
  constructor(em: SqlEntityManager) {
    super(em, SecurityEvent);
  }

  /** Appends one event. */
  async record(fields: Omit<SecurityEvent, 'id'>): Promise<void> {
    await this.em.persistAndFlush(new SecurityEvent(fields));
  }

  /** Appends several events in one statement. */
  async recordMany(rows: readonly Omit<SecurityEvent, 'id'>[]): Promise<void> {
    if (rows.length === 0) return;
    await this.em.insertMany(
      SecurityEvent,
      rows.map((fields) => new SecurityEvent(fields)),
    );
  }

  /** A user's most recent events, newest first. */
  listForUser(userId: number, limit: number): Promise<SecurityEvent[]> {
    return this.find({ userId }, { orderBy: { createdAt: 'desc', id: 'desc' }, limit });
  }

  /** Deletes up to `limit` events older than `before`; returns how many. */
  async deleteOlderThan(before: Date, limit: number): Promise<number> {
    const old = await this.find({ createdAt: { $lt: before } }, { fields: ['id'], limit });
    if (old.length === 0) return 0;
    return this.nativeDelete({ id: { $in: old.map((event) => event.id) } });
  }
}
