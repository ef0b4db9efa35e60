// The periodic clean-up: expired sessions and reset tokens, old security events and failed mail, in small batches.
import { errorForLog, type Logger } from '../shared';

/**
 * One kind of expired data and how to remove it in batches: the modules that own the data supply these (sessions,
 * reset tokens, security events, failed mail), so the clean-up knows none of their tables.
 */
export interface CleanupStep {
  /** The name its count has in a run's result and the log line. */
  readonly name: string;
  /** Removes what has expired, at most `batchSize` rows per statement; returns how many rows went. */
  removeExpired(batchSize: number): Promise<number>;
}

/** What the clean-up needs and how often it runs. */
export interface CleanupOptions {
  /** Run in this order, one after the other. */
  readonly steps: readonly CleanupStep[];
  readonly log: Logger;
  readonly intervalSeconds: number;
  readonly batchSize: number;
}

/** What one run removed, by step name. */
export type CleanupResult = Readonly<Record<string, number>>;

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
    const removed: Record<string, number> = {};
    for (const step of this.options.steps)
      removed[step.name] = await step.removeExpired(this.options.batchSize);
    return removed;
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
