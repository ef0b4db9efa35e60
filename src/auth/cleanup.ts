// The periodic clean-up: expired sessions, expired reset tokens and security events past retention, in small batches.
import type { FastifyBaseLogger } from 'fastify';
import { errorForLog } from '../http/logging';
import type { AuthService } from './auth.service';
import type { SecurityLog } from './security-log';

/** What the clean-up needs and how often it runs. */
export interface CleanupOptions {
  readonly auth: AuthService;
  readonly securityLog: SecurityLog;
  readonly log: FastifyBaseLogger;
  readonly intervalSeconds: number;
  readonly batchSize: number;
  readonly retentionDays: number;
}

/** What one run removed. */
export interface CleanupResult {
  readonly sessions: number;
  readonly resetTokens: number;
  readonly securityEvents: number;
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
    return { ...expired, securityEvents };
  }

  private async runLogged(): Promise<void> {
    try {
      const removed = await this.runOnce();
      if (removed.sessions + removed.resetTokens + removed.securityEvents > 0) {
        this.options.log.info({ removed }, 'clean-up removed expired data');
      }
    } catch (error) {
      this.options.log.error({ error: errorForLog(error) }, 'clean-up failed');
    }
  }
}
