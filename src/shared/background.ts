// Work a request starts but does not wait for (issuing and mailing a reset, notices): bounded, and awaited by shutdown.
import type { Logger } from './log';
import { errorForLog } from './log';

/** How many tasks run at once: mail hand-offs wait on a remote server, so a few overlap; more would only queue there. */
export const BACKGROUND_CONCURRENCY = 4;

/** One task waiting for its turn. */
interface Queued {
  readonly log: Logger;
  readonly what: string;
  readonly task: () => Promise<void>;
}

/**
 * The tasks started after their request was answered, at most `maxPending` at a time (running and waiting), of
 * which BACKGROUND_CONCURRENCY run at once. Unbounded, a slow or stalled mail server would let every reset request
 * leave a task and its message in memory until the process died. When full, `offer` says no before any work starts,
 * so the caller can refuse its request (SERVICE_BUSY) the same way whatever the request named.
 *
 * Each failure is logged under its request's id (the client has its answer already, so there is nobody else to
 * tell), and `settled` lets shutdown wait for every task to finish before the database closes, so no started work
 * is cut off half-way.
 */
export class BackgroundWork {
  private readonly waiting: Queued[] = [];
  private running = 0;
  private readonly idle: (() => void)[] = [];

  /** @param maxPending the most tasks held at once, running and waiting. */
  constructor(readonly maxPending: number) {}

  /** How many tasks are held now, running and waiting. */
  get pending(): number {
    return this.running + this.waiting.length;
  }

  /**
   * Queues `task` unless `maxPending` tasks are held already; returns whether it was taken. A failure is logged as
   * `what` on the request's logger. The task never starts during this call, only from a later turn, so a caller
   * finishes its answer first whatever the task does.
   */
  offer(log: Logger, what: string, task: () => Promise<void>): boolean {
    if (this.pending >= this.maxPending) return false;
    this.waiting.push({ log, what, task });
    this.startNext();
    return true;
  }

  /** Resolves once every task taken so far, and any they took in turn, has finished. */
  settled(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private startNext(): void {
    while (this.running < BACKGROUND_CONCURRENCY) {
      const next = this.waiting.shift();
      if (next === undefined) break;
      this.running += 1;
      // Promise.resolve().then: a task that throws synchronously, or does its work before its first await, still
      // runs after the caller's turn, and its throw becomes a logged failure like any other.
      void Promise.resolve()
        .then(next.task)
        .catch((error: unknown) =>
          next.log.error({ error: errorForLog(error), task: next.what }, 'background task failed'),
        )
        .finally(() => {
          this.running -= 1;
          this.startNext();
          if (this.pending === 0) for (const resolve of this.idle.splice(0)) resolve();
        });
    }
  }
}
