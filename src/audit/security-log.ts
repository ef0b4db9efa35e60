// The security event log: records what happens to accounts, tallies refusals, shows users their own events, ages them out.
import type { SqlEntityManager } from '@mikro-orm/knex';
import { User } from '../entities/user.entity';
import type { SecurityEvent, SecurityEventType } from '../entities/security-event.entity';
import { drain, errorForLog, type Clock, type Logger } from '../shared';
import { lookupEmail } from '../accounts';
import { clientNetworkKey } from '../abuse';
import { SecurityEventRepository } from './security-event.repository';

const MS_PER_DAY = 24 * 60 * 60 * 1000;

/** How long refusals are tallied before their rows are written: one row per client and account per window. */
export const REFUSAL_WINDOW_SECONDS = 60;

/**
 * Most distinct (limit, client network, account) tallies one batch holds. A full batch is written at once and a new
 * one started, so a burst of refusals naming many accounts still shows each targeted owner their refusals.
 */
const MAX_REFUSAL_TALLIES = 1000;

/**
 * Most batches written early in one window. Past them (a spray of made-up emails: 5,000 distinct ones a minute),
 * further refusals are tallied per limit and client network without the email, and past MAX_REFUSAL_TALLIES
 * networks per limit alone: rows and memory stay bounded however many addresses or emails a flood uses.
 */
const MAX_EARLY_BATCHES = 4;

/** Who did something and from where, as the log records it. */
export interface EventSource {
  readonly ip: string;
  readonly userAgent: string | null;
  readonly log: Logger;
}

/** What an event is about: its account and the email the request named, when known. */
export interface EventSubject {
  readonly userId?: number | null;
  /** Raw as the client sent it; stored normalised, and only when an account could have it. */
  readonly email?: string | null;
  readonly reason?: string | null;
}

/** Refusals of one limit for one client network (and account, when one was named) within one window. */
interface RefusalTally {
  readonly firstAt: Date;
  /** The first refused request's address; null for the tally of a limit's refusals from too many networks. */
  readonly ip: string | null;
  readonly userAgent: string | null;
  readonly email: string | null;
  readonly userId: number | null;
  readonly reason: string;
  count: number;
}

/** What the log needs besides the database: the clock and where its own failures are reported. */
export interface SecurityLogOptions {
  readonly clock: Clock;
  /** The server's logger, for failures of work no request waits for (writing the refusal tallies). */
  readonly log: Logger;
}

/**
 * Appends security events and reads them back. Recording never fails a request: the action it records has already
 * happened, so a failed insert is logged as an error instead of being thrown.
 *
 * Refusals (RATE_LIMITED) are different: a flood of them is exactly what an attacker sends, and a durable insert
 * (an fsync on SQLite) per refusal would let refused requests slow everyone's logins and fill the disk. They are
 * tallied in memory, O(1) and no I/O per refusal, and written once a window per client network and account with
 * their count, off the answer path; the account's owner still sees that someone was refused on their account, up
 * to MAX_EARLY_BATCHES full batches a window (past them a spray is tallied without emails: see `refused`).
 */
export class SecurityLog {
  /** This batch's tallies per (limit, client network, account). */
  private tallies = new Map<string, RefusalTally>();
  /** This window's tallies past the early batches: per (limit, client network), then per limit. */
  private overflow = new Map<string, RefusalTally>();
  /** Batches written early (full) in this window. */
  private earlyBatches = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private readonly clock: Clock;
  private readonly log: Logger;

  constructor(
    private readonly em: SqlEntityManager,
    options: SecurityLogOptions,
  ) {
    this.clock = options.clock;
    this.log = options.log;
  }

  /** Appends one event. */
  async record(source: EventSource, type: SecurityEventType, subject: EventSubject = {}): Promise<void> {
    try {
      await this.repository().record({
        createdAt: this.clock.now(),
        type,
        userId: subject.userId ?? null,
        email: storedEmail(subject.email),
        ip: source.ip,
        userAgent: source.userAgent,
        reason: subject.reason ?? null,
        count: 1,
      });
    } catch (error) {
      source.log.error({ error: errorForLog(error), event: type }, 'could not record security event');
    }
  }

  /**
   * Counts one refusal by the limit named `reason`, synchronously and without I/O; the window's tally is written
   * later by `flush`. The first refusal of a window gives the row its time, address and user agent.
   */
  refused(source: EventSource, reason: string, subject: { email: string; userId?: number | null }): void {
    const email = storedEmail(subject.email);
    const userId = subject.userId ?? null;
    const network = clientNetworkKey(source.ip);
    const key = `${reason}\n${network}\n${email ?? ''}\n${userId ?? ''}`;
    if (this.count(key)) return;
    if (this.tallies.size >= MAX_REFUSAL_TALLIES && this.earlyBatches < MAX_EARLY_BATCHES) {
      // Full: written now rather than collapsed, so the accounts named in it keep their own rows.
      this.earlyBatches += 1;
      void this.flush();
    }
    if (this.tallies.size < MAX_REFUSAL_TALLIES) {
      this.tallies.set(key, this.tally(source, reason, email, userId));
      return;
    }
    // Still full after the early batches: this window's spray is counted per network, then per limit, without
    // the email (and past the networks' cap without an address either, rather than under the first one seen).
    const byNetwork = `${reason}\n${network}\n*`;
    if (this.count(byNetwork)) return;
    if (this.overflow.size < MAX_REFUSAL_TALLIES) {
      this.overflow.set(byNetwork, this.tally(source, reason, null, null));
      return;
    }
    const byLimit = `${reason}\n*`;
    if (!this.count(byLimit))
      this.overflow.set(byLimit, { ...this.tally(source, reason, null, null), ip: null });
  }

  /** Writes the refusals tallied so far, one row each; failures are logged and the tallies dropped. */
  flush(): Promise<void> {
    // Taken now, synchronously, so refusals arriving during the write start a new batch instead of joining one
    // already being written; one write at a time, in order, so batches are never written twice or out of order.
    const batch = [...this.tallies.values(), ...this.overflow.values()];
    this.tallies = new Map();
    this.overflow = new Map();
    if (batch.length > 0) this.flushing = this.flushing.then(() => this.writeTallies(batch));
    return this.flushing;
  }

  /** Starts writing the tallies once a window. The timer is unref'd: it never keeps the process alive. */
  start(): void {
    this.timer = setInterval(() => {
      this.earlyBatches = 0;
      void this.flush();
    }, REFUSAL_WINDOW_SECONDS * 1000);
    this.timer.unref();
  }

  /** Stops the timer and writes what is tallied, so a shutdown loses no refusal; call before the database closes. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
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

  /** Adds one to the tally under `key` in this window, if there is one; returns whether there was. */
  private count(key: string): boolean {
    const tally = this.tallies.get(key) ?? this.overflow.get(key);
    if (tally === undefined) return false;
    tally.count += 1;
    return true;
  }

  /** A new tally of one refusal, with the time, address and user agent of its first refusal. */
  private tally(
    source: EventSource,
    reason: string,
    email: string | null,
    userId: number | null,
  ): RefusalTally {
    return {
      firstAt: this.clock.now(),
      ip: source.ip,
      userAgent: source.userAgent,
      email,
      userId,
      reason,
      count: 1,
    };
  }

  private async writeTallies(tallies: readonly RefusalTally[]): Promise<void> {
    try {
      const owners = await this.ownersOf(tallies);
      await this.repository().recordMany(
        tallies.map((tally) => ({
          createdAt: tally.firstAt,
          type: 'RATE_LIMITED' as const,
          // Resolved here, once a window, rather than per refusal: the refused request never paid for a query.
          userId: tally.userId ?? (tally.email === null ? null : (owners.get(tally.email) ?? null)),
          email: tally.email,
          ip: tally.ip,
          userAgent: tally.userAgent,
          reason: tally.reason,
          count: tally.count,
        })),
      );
    } catch (error) {
      const refusals = tallies.reduce((sum, tally) => sum + tally.count, 0);
      this.log.error({ error: errorForLog(error), refusals }, 'could not record refused requests');
    }
  }

  /** The account id of each tallied email that has an account, in one query. */
  private async ownersOf(tallies: readonly RefusalTally[]): Promise<Map<string, number>> {
    const emails = [...new Set(tallies.flatMap((tally) => (tally.email === null ? [] : [tally.email])))];
    if (emails.length === 0) return new Map();
    const users = await this.em.fork().find(User, { email: { $in: emails } }, { fields: ['id', 'email'] });
    return new Map(users.map((user) => [user.email, user.id]));
  }

  private repository(): SecurityEventRepository {
    return new SecurityEventRepository(this.em.fork());
  }
}

/** The email as events store it: normalised, and only when an account could have it. */
function storedEmail(email: string | null | undefined): string | null {
  return email === undefined || email === null ? null : lookupEmail(email);
}
