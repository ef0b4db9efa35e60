// Reads and writes of the `mail_outbox` table: writing owed mail, claiming the next due one, and recording the outcome.
import { LockMode, type FilterQuery } from '@mikro-orm/core';
import { SqlEntityRepository, type SqlEntityManager } from '@mikro-orm/knex';
import { OutboxMail } from '../entities/outbox-mail.entity';
import { drain } from '../shared';
import type { MailMessage } from './mailer';

const MS_PER_DAY = 24 * 60 * 60 * 1000;

/** A mail to write to the outbox: what it is, the message, and when sending it stops making sense. */
export interface OutgoingMail {
  /** `reset`, `reset notice` or `change notice`: named in logs and in the table, never sent. */
  readonly kind: string;
  readonly message: MailMessage;
  /** A reset mail expires with its token; a notice after a day (see AuthOperations). */
  readonly expiresAt: Date;
  /** The request that caused it, so the worker's log lines carry the same id. */
  readonly requestId: string | null;
}

/** A mail one worker now holds: everything needed to send it and to record what happened. */
export interface ClaimedMail {
  readonly id: number;
  readonly kind: string;
  readonly message: MailMessage;
  /** This attempt's number, from 1. */
  readonly attempt: number;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  readonly requestId: string | null;
}

/** How many mails wait and how many were given up on: what an operator looks at. */
export interface OutboxCounts {
  readonly pending: number;
  readonly failed: number;
}

/** Repository for the outbox, bound to one EntityManager (a fork or a transaction). */
export class OutboxRepository extends SqlEntityRepository<OutboxMail> {
  constructor(em: SqlEntityManager) {
    super(em, OutboxMail);
  }

  /** Writes a mail, due at once. Call it inside the transaction of the change the mail tells of. */
  async enqueue(mail: OutgoingMail, now: Date): Promise<void> {
    await this.em.persistAndFlush(
      new OutboxMail({
        kind: mail.kind,
        recipient: mail.message.to,
        subject: mail.message.subject,
        body: mail.message.text,
        createdAt: now,
        expiresAt: mail.expiresAt,
        requestId: mail.requestId,
      }),
    );
  }

  /**
   * Claims the pending mail due first, for `leaseMs`, and counts the attempt; null when none is due. Must run in
   * a transaction. With `skipLocked` (PostgreSQL) the row is read `FOR UPDATE SKIP LOCKED`, so instances polling
   * at once each take a different mail instead of queueing on the same row. The update is also conditional on
   * the attempt count just read, so even without row locks (SQLite) two claims of one mail cannot both succeed.
   */
  async claimNext(now: Date, leaseMs: number, skipLocked: boolean): Promise<ClaimedMail | null> {
    const due: FilterQuery<OutboxMail> = {
      status: 'pending',
      nextAttemptAt: { $lte: now },
      $or: [{ claimedUntil: null }, { claimedUntil: { $lte: now } }],
    };
    const row = await this.findOne(due, {
      orderBy: { nextAttemptAt: 'asc', id: 'asc' },
      ...(skipLocked ? { lockMode: LockMode.PESSIMISTIC_PARTIAL_WRITE } : {}),
    });
    if (row === null || row.body === null) return null;
    const attempt = row.attempts + 1;
    const claimed = await this.nativeUpdate(
      { $and: [{ id: row.id, attempts: row.attempts }, due] },
      { attempts: attempt, claimedUntil: new Date(now.getTime() + leaseMs) },
    );
    if (claimed !== 1) return null;
    return {
      id: row.id,
      kind: row.kind,
      message: { to: row.recipient, subject: row.subject, text: row.body },
      attempt,
      createdAt: row.createdAt,
      expiresAt: row.expiresAt,
      requestId: row.requestId,
    };
  }

  /** A mail the server accepted: its row goes, and with it the only copy of any token in its text. */
  async sent(id: number): Promise<void> {
    await this.nativeDelete({ id });
  }

  /** A temporary failure: the mail is let go and becomes due again at `at`. */
  async retryAt(id: number, at: Date, error: string): Promise<void> {
    await this.nativeUpdate({ id }, { nextAttemptAt: at, claimedUntil: null, lastError: error });
  }

  /** A mail given up on: kept as `failed` with the reason, its text wiped (it may hold a reset token). */
  async giveUp(id: number, now: Date, error: string): Promise<void> {
    await this.nativeUpdate(
      { id },
      { status: 'failed', body: null, claimedUntil: null, lastError: error, failedAt: now },
    );
  }

  /** How many mails are pending and how many failed. */
  async counts(): Promise<OutboxCounts> {
    const [pending, failed] = await Promise.all([
      this.count({ status: 'pending' }),
      this.count({ status: 'failed' }),
    ]);
    return { pending, failed };
  }

  /** Deletes up to `limit` failed mails given up on before `cutoff`; returns how many. */
  async deleteFailedBefore(cutoff: Date, limit: number): Promise<number> {
    const old = await this.find({ status: 'failed', failedAt: { $lte: cutoff } }, { fields: ['id'], limit });
    if (old.length === 0) return 0;
    return this.nativeDelete({ id: { $in: old.map((mail) => mail.id) } });
  }
}

/**
 * Writes `mail`, if there is one, in transaction `tx`: the one way a change hands its mail over, so the change and
 * its mail commit together or not at all.
 */
export async function enqueueMail(tx: SqlEntityManager, mail: OutgoingMail | null, now: Date): Promise<void> {
  if (mail !== null) await new OutboxRepository(tx).enqueue(mail, now);
}

/**
 * Removes mail given up on more than `retentionDays` before `now`, `batchSize` rows per statement; returns how many.
 * Such rows hold no text any more, only who the mail was for and why it failed.
 */
export function removeFailedMailOlderThan(
  em: SqlEntityManager,
  retentionDays: number,
  now: Date,
  batchSize: number,
): Promise<number> {
  const cutoff = new Date(now.getTime() - retentionDays * MS_PER_DAY);
  return drain(() => new OutboxRepository(em.fork()).deleteFailedBefore(cutoff, batchSize), batchSize);
}
