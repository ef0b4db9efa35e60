// In-process fixed-window counters with a hard cap on how many keys they hold (the limits' store on SQLite).
import { LRUCache } from 'lru-cache';
import { RateLimiterRes } from 'rate-limiter-flexible';

/** How often counters whose window has ended are swept out, so memory comes back after a burst. */
const SWEEP_INTERVAL_MS = 60_000;

/** One key's count in its current window. */
interface Window {
  points: number;
  /** When the window ends, in Date.now() milliseconds. */
  readonly endsAtMs: number;
}

/**
 * The counters of every in-process limiter, in one least-recently-used map with a hard cap on its size.
 *
 * rate-limiter-flexible's RateLimiterMemory keeps one Map entry and one timer per key for the key's whole window,
 * with no bound: every distinct plausible email tried at login held a 24-hour entry, and a burst from an IPv6
 * /56 could grow the heap until the process died. Here a key costs one small object and no timer, the map never
 * holds more than `maxKeys` (when full, the least recently used counter is forgotten), and a sweep drops ended
 * windows once a minute. Forgetting a counter can only ever let one more attempt through early, never refuse
 * anyone: the cap is a memory bound, not a limit. Deployments that must never forget use PostgreSQL or Redis.
 *
 * Time is Date.now(), as in rate-limiter-flexible's own memory store, so fake clocks in tests move both alike.
 */
export class BoundedCounters {
  private readonly windows: LRUCache<string, Window>;
  private readonly sweeper: NodeJS.Timeout;

  constructor(readonly maxKeys: number) {
    this.windows = new LRUCache<string, Window>({ max: maxKeys });
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  /** How many counters are held now. */
  get size(): number {
    return this.windows.size;
  }

  /** A limiter of `points` per `durationSeconds` whose keys live in these counters under `keyPrefix`. */
  limiter(options: { keyPrefix: string; points: number; duration: number }): BoundedLimiter {
    return new BoundedLimiter(this, options.keyPrefix, options.points, options.duration);
  }

  /** Adds `points` (negative to give back) to the key's open window, or opens a new one; returns the window. */
  add(key: string, points: number, durationSeconds: number): { window: Window; isFirst: boolean } {
    const now = Date.now();
    const current = this.live(key, now);
    if (current !== undefined) {
      current.points += points;
      return { window: current, isFirst: false };
    }
    const window = { points, endsAtMs: now + durationSeconds * 1000 };
    this.windows.set(key, window);
    return { window, isFirst: true };
  }

  /** The key's open window, or undefined (never opened, ended, or forgotten). */
  live(key: string, now = Date.now()): Window | undefined {
    const window = this.windows.get(key);
    if (window === undefined) return undefined;
    if (window.endsAtMs > now) return window;
    this.windows.delete(key);
    return undefined;
  }

  /** Forgets the key; returns whether it was held. */
  delete(key: string): boolean {
    return this.windows.delete(key);
  }

  /** Stops the sweep timer (the process may exit without it; tests and close() call it to be tidy). */
  close(): void {
    clearInterval(this.sweeper);
  }

  private sweep(): void {
    const now = Date.now();
    // purgeStale is lru-cache's own TTL sweep; our windows carry their own ends, so the walk is ours.
    for (const [key, window] of this.windows.entries()) {
      if (window.endsAtMs <= now) this.windows.delete(key);
    }
  }
}

/** Options a consume may carry: a window length of its own, as rate-limiter-flexible's `customDuration`. */
interface ConsumeOptions {
  readonly customDuration?: number;
}

/**
 * One fixed-window limiter over BoundedCounters, with the part of rate-limiter-flexible's limiter API the limits
 * use (consume, penalty, reward, get, delete) and its results: a refusal rejects with a RateLimiterRes.
 */
export class BoundedLimiter {
  constructor(
    private readonly counters: BoundedCounters,
    private readonly keyPrefix: string,
    readonly points: number,
    private readonly duration: number,
  ) {}

  /** Counts `points`; rejects with a RateLimiterRes when the window's budget is exceeded. */
  consume(key: string, points = 1, options: ConsumeOptions = {}): Promise<RateLimiterRes> {
    const res = this.change(key, points, options);
    // Refusals reject with the RateLimiterRes itself, not an Error: that is rate-limiter-flexible's contract,
    // which the limits rely on to tell a refusal from a fault.
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    return res.consumedPoints > this.points ? Promise.reject(res) : Promise.resolve(res);
  }

  /** Counts `points` without ever refusing. */
  penalty(key: string, points = 1, options: ConsumeOptions = {}): Promise<RateLimiterRes> {
    return Promise.resolve(this.change(key, points, options));
  }

  /** Gives `points` back. */
  reward(key: string, points = 1, options: ConsumeOptions = {}): Promise<RateLimiterRes> {
    return Promise.resolve(this.change(key, -points, options));
  }

  /** The key's window, or null when it has none. */
  get(key: string): Promise<RateLimiterRes | null> {
    const now = Date.now();
    const window = this.counters.live(this.fullKey(key), now);
    return Promise.resolve(window === undefined ? null : this.result(window, now, false));
  }

  /** Forgets the key's window; resolves whether there was one. */
  delete(key: string): Promise<boolean> {
    return Promise.resolve(this.counters.delete(this.fullKey(key)));
  }

  private change(key: string, points: number, options: ConsumeOptions): RateLimiterRes {
    const duration = options.customDuration ?? this.duration;
    const { window, isFirst } = this.counters.add(this.fullKey(key), points, duration);
    return this.result(window, Date.now(), isFirst);
  }

  private result(window: Window, now: number, isFirst: boolean): RateLimiterRes {
    return new RateLimiterRes(
      Math.max(this.points - window.points, 0),
      window.endsAtMs - now,
      window.points,
      isFirst,
    );
  }

  private fullKey(key: string): string {
    return `${this.keyPrefix}:${key}`;
  }
}
