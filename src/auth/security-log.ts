// The security event log: records what happens to accounts, shows users their own events, and ages them out.
import type { FastifyBaseLogger } from 'fastify';
import type { SqlEntityManager } from '@mikro-orm/knex';
import type { SecurityEvent, SecurityEventType } from '../entities/security-event.entity';
import { errorForLog } from '../http/logging';
import { drain } from './batches';
import type { Clock } from './clock';
import { lookupEmail } from './input-policy';
import { SecurityEventRepository } from './security-event.repository';

const MS_PER_DAY = 24 * 60 * 60 * 1000;

/** Who did something and from where, as the log records it. */
export interface EventSource {
  readonly ip: string;
  readonly userAgent: string | null;
  readonly log: FastifyBaseLogger;
}

/** What an event is about: its account and the email the request named, when known. */
export interface EventSubject {
  readonly userId?: number | null;
  /** Raw as the client sent it; stored normalised, and only when an account could have it. */
  readonly email?: string | null;
  readonly reason?: string | null;
}

/**
 * Appends security events and reads them back. Recording never fails a request: the action it records has already
 * happened, so a failed insert is logged as an error under the request id instead of being thrown.
 */
export class SecurityLog {
  constructor(
    private readonly em: SqlEntityManager,
    private readonly clock: Clock,
  ) {}

  /** Appends one event. */
  async record(source: EventSource, type: SecurityEventType, subject: EventSubject = {}): Promise<void> {
    try {
      await this.repository().record({
        createdAt: this.clock.now(),
        type,
        userId: subject.userId ?? null,
        email: subject.email === undefined || subject.email === null ? null : lookupEmail(subject.email),
        ip: source.ip,
        userAgent: source.userAgent,
        reason: subject.reason ?? null,
      });
    } catch (error) {
      source.log.error({ error: errorForLog(error), event: type }, 'could not record security event');
    }
  }

  /** A user's own most recent events, newest first. */
  listForUser(userId: number, limit: number): Promise<SecurityEvent[]> {
    return this.repository().listForUser(userId, limit);
  }

  /** Deletes events older than the retention period, `batchSize` rows per statement; returns how many. */
  async removeOlderThan(retentionDays: number, batchSize: number): Promise<number> {
    const before = new Date(this.clock.now().getTime() - retentionDays * MS_PER_DAY);
    return drain(() => this.repository().deleteOlderThan(before, batchSize), batchSize);
  }

  private repository(): SecurityEventRepository {
    return new SecurityEventRepository(this.em.fork());
  }
}
