// Admission control: at most N tasks run at once, a few more wait, and the rest are refused at once.
import { AuthError } from '../errors';

/** What a refused caller is told to wait before retrying: about one queue's worth of work. */
const BUSY_RETRY_AFTER_MS = 1000;

/**
 * A counting semaphore with a bounded wait queue. Waiting without a bound would turn a burst into latency that
 * grows without limit for everyone; refusing at once (SERVICE_BUSY) keeps the wait of every admitted task
 * short and tells the refused client when to come back.
 */
export class Admission {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  /**
   * @param maxRunning tasks allowed to run at once (at least 1).
   * @param maxWaiting tasks allowed to wait for a slot (0: no queue).
   */
  constructor(
    readonly maxRunning: number,
    readonly maxWaiting: number,
  ) {}

  /** Tasks running now and waiting now; for tests and metrics. */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  /**
   * Runs `task` when a slot is free. Rejects at once, without running it, with AuthError SERVICE_BUSY when every
   * slot is taken and the queue is full.
   */
  async run<T>(task: () => Promise<T>): Promise<T> {
    await this.enter();
    try {
      return await task();
    } finally {
      this.leave();
    }
  }

  private enter(): Promise<void> {
    if (this.running < this.maxRunning) {
      this.running += 1;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.maxWaiting) {
      return Promise.reject(AuthError.retryLater('SERVICE_BUSY', BUSY_RETRY_AFTER_MS));
    }
    // The slot is handed over by leave() without ever being released, so a newcomer cannot jump the queue.
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private leave(): void {
    const next = this.waiting.shift();
    if (next === undefined) this.running -= 1;
    else next();
  }
}
