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
 * A counter is held, out of reach of fresh keys, once it has counted this many points in its window (see
 * BoundedCounters). Two: a key seen once is what a spray makes; a key seen twice is an account or network someone
 * keeps coming back to, which is what the limits are for.
 */
export const HOLD_AT_POINTS = 2;

/**
 * One family of in-process counters (the limits keyed by client network, or those keyed by account), with a hard
 * cap on how many keys it holds.
 *
 * rate-limiter-flexible's RateLimiterMemory keeps one Map entry and one timer per key for the key's whole window,
 * with no bound: every distinct plausible email tried at login held a 24-hour entry, and a burst from an IPv6
 * /56 could grow the heap until the process died. Here a key costs one small object and no timer, and a sweep
 * drops ended windows once a minute.
 *
 * The cap is split in two least-recently-used maps so that it cannot be used to erase the counters that matter.
 * A key starts in `fresh`; once its window has counted HOLD_AT_POINTS (or the limiter's own holdAt, 1 for the
 * login back-off gate) it moves to `held`, where only other held keys can push it out. A spray of one-off keys
 * (made-up emails, addresses of a large IPv6 block) therefore only ever evicts other one-off keys, and forgetting
 * one of those gives back at most the one attempt it counted. Pushing out a held counter takes half the cap of
 * other keys, each counted twice within its window, while the attacker's own attempts on the account it guards
 * keep that counter the most recently used. Deployments that must never forget use PostgreSQL or Redis.
 *
 * Time is Date.now(), as in rate-limiter-flexible's own memory store, so fake clocks in tests move both alike.
 */
export class BoundedCounters {
  private readonly fresh: LRUCache<string, Window>;
  private readonly held: LRUCache<string, Window>;
  private readonly sweeper: NodeJS.Timeout;

  /** @param maxKeys the most counters held in all, half of them fresh and half held (at least one of each). */
  constructor(readonly maxKeys: number) {
    const half = Math.max(Math.floor(maxKeys / 2), 1);
    this.fresh = new LRUCache<string, Window>({ max: half });
    this.held = new LRUCache<string, Window>({ max: half });
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  /** How many counters are held now, fresh and held together. */
  get size(): number {
    return this.fresh.size + this.held.size;
  }

  /**
   * A limiter of `points` per `durationSeconds` whose keys live in these counters under `keyPrefix`; its keys are
   * held once they count `holdAt` points (HOLD_AT_POINTS unless given).
   */
  limiter(options: { keyPrefix: string; points: number; duration: number; holdAt?: number }): BoundedLimiter {
    return new BoundedLimiter(
      this,
      options.keyPrefix,
      options.points,
      options.duration,
      options.holdAt ?? HOLD_AT_POINTS,
    );
  }

  /**
   * Adds `points` (negative to give back) to the key's open window, or opens a new one; a window that reaches
   * `holdAt` points moves to the held map. Returns the window.
   */
  add(
    key: string,
    points: number,
    durationSeconds: number,
    holdAt: number,
  ): { window: Window; isFirst: boolean } {
    const now = Date.now();
    const held = this.liveIn(this.held, key, now);
    if (held !== undefined) {
      held.points += points;
      if (held.points <= 0) this.held.delete(key);
      return { window: held, isFirst: false };
    }
    const fresh = this.liveIn(this.fresh, key, now);
    const window = fresh ?? { points: 0, endsAtMs: now + durationSeconds * 1000 };
    window.points += points;
    if (window.points <= 0) {
      // Nothing left to remember (every point given back): the key goes at once rather than sit until its window
      // ends, in the same synchronous step as the change, so no other request's point can be lost with it.
      this.fresh.delete(key);
    } else if (window.points >= holdAt) {
      // Moved, not copied: a key lives in one map at a time, so size counts it once and delete finds it.
      this.fresh.delete(key);
      this.held.set(key, window);
    } else if (fresh === undefined) {
      this.fresh.set(key, window);
    }
    return { window, isFirst: fresh === undefined };
  }

  /** The key's open window, or undefined (never opened, ended, or forgotten). */
  live(key: string, now = Date.now()): Window | undefined {
    return this.liveIn(this.held, key, now) ?? this.liveIn(this.fresh, key, now);
  }

  /** Forgets the key; returns whether it was held. */
  delete(key: string): boolean {
    const inHeld = this.held.delete(key);
    return this.fresh.delete(key) || inHeld;
  }

  /** Stops the sweep timer (the process may exit without it; tests and close() call it to be tidy). */
  close(): void {
    clearInterval(this.sweeper);
  }

  private liveIn(map: LRUCache<string, Window>, key: string, now: number): Window | undefined {
    const window = map.get(key);
    if (window === undefined) return undefined;
    if (window.endsAtMs > now) return window;
    map.delete(key);
    return undefined;
  }

  private sweep(): void {
    const now = Date.now();
    // purgeStale is lru-cache's own TTL sweep; our windows carry their own ends, so the walk is ours.
    for (const map of [this.fresh, this.held]) {
      for (const [key, window] of map.entries()) {
        if (window.endsAtMs <= now) map.delete(key);
      }
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
    private readonly holdAt: number,
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
    const { window, isFirst } = this.counters.add(this.fullKey(key), points, duration, this.holdAt);
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
