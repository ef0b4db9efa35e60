// The periodic clean-up: expired sessions and reset tokens, old security events and failed mail, in small batches.
import type { SqlEntityManager } from '@mikro-orm/knex';
import type { Logger } from '../shared/log';
import { errorForLog } from '../shared/log';
import { OutboxRepository } from '../mail/outbox.repository';
import type { AuthService } from '../accounts/auth.service';
import { drain } from '../shared/batches';
import type { Clock } from '../shared/clock';
import type { SecurityLog } from './security-log';

const MS_PER_DAY = 24 * 60 * 60 * 1000;

/** What the clean-up needs and how often it runs. */
export interface CleanupOptions {
  readonly auth: AuthService;
  readonly securityLog: SecurityLog;
  readonly log: Logger;
  readonly intervalSeconds: number;
  readonly batchSize: number;
  readonly retentionDays: number;
  /** Where the mail outbox is, and how many days mail given up on is kept there for the operator. */
  readonly failedMail: {
    readonly em: SqlEntityManager;
    readonly retentionDays: number;
    readonly clock: Clock;
  };
}

/** What one run removed. */
export interface CleanupResult {
  readonly sessions: number;
  readonly resetTokens: number;
  readonly securityEvents: number;
  /** Mails given up on longer ago than their retention. */
  readonly failedMails: number;
}

/**
 * Removes what nobody can use any more. Expired rows are already refused on every read, so this is about space
 * and privacy (old IPs and user agents), never correctness. Each statement deletes at most `batchSize` rows and
 * the job yields between statements, so requests are never held up behind it; runs never overlap.
 */
export class Cleanup {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<CleanupResult> | undefined;

  constructor(private readonly options: CleanupOptions) {}

  /** Starts the periodic runs. The timer is unref'd: it never keeps the process alive on its own. */
  start(): void {
    this.timer = setInterval(() => void this.runLogged(), this.options.intervalSeconds * 1000);
    this.timer.unref();
  }

  /** Stops the periodic runs and waits for a run in progress, so the database can close under nobody. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One run now (or the run already in progress). */
  runOnce(): Promise<CleanupResult> {
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async run(): Promise<CleanupResult> {
    const { auth, securityLog, batchSize, retentionDays } = this.options;
    const expired = await auth.removeExpired(batchSize);
    const securityEvents = await securityLog.removeOlderThan(retentionDays, batchSize);
    const failedMails = await this.removeFailedMail();
    return { ...expired, securityEvents, failedMails };
  }

  /** Failed mail past its retention: it has no text left, only who it was for and why it failed. */
  private removeFailedMail(): Promise<number> {
    const { failedMail, batchSize } = this.options;
    const cutoff = new Date(failedMail.clock.now().getTime() - failedMail.retentionDays * MS_PER_DAY);
    return drain(
      () => new OutboxRepository(failedMail.em.fork()).deleteFailedBefore(cutoff, batchSize),
      batchSize,
    );
  }

  private async runLogged(): Promise<void> {
    try {
      const removed = await this.runOnce();
      if (Object.values(removed).some((count) => count > 0)) {
        this.options.log.info({ removed }, 'clean-up removed expired data');
      }
    } catch (error) {
      this.options.log.error({ error: errorForLog(error) }, 'clean-up failed');
    }
  }
}
