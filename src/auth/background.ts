// Work a request starts but does not wait for (issuing and mailing a reset), tracked so shutdown can wait for it.
import type { FastifyBaseLogger } from 'fastify';
import { errorForLog } from '../http/logging';

/**
 * The tasks started after their request was answered. Each failure is logged under its request's id (the client
 * has its answer already, so there is nobody else to tell), and `settled` lets shutdown wait for every task to
 * finish before the database closes, so no started work is cut off half-way.
 */
export class BackgroundWork {
  private readonly running = new Set<Promise<void>>();

  /** Starts `task` now without waiting for it; a failure is logged as `what` on the request's logger. */
  run(log: FastifyBaseLogger, what: string, task: () => Promise<void>): void {
    const promise = task().then(
      () => undefined,
      (error: unknown) => log.error({ error: errorForLog(error), task: what }, 'background task failed'),
    );
    this.running.add(promise);
    void promise.finally(() => this.running.delete(promise));
  }

  /** Resolves once every task started so far, and any they started in turn, has finished. */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }
}
