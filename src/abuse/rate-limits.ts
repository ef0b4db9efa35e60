// Brute-force and spam limits (rate-limiter-flexible), keyed by client network and by account, for both transports.
import { createHash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import ipaddr from 'ipaddr.js';
import { RateLimiterPostgres, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { RateLimitConfig, WindowLimit } from '../config';
import { AuthError, failRetryLater, succeed, type Failure, type Result } from '../errors';
import { BoundedCounters } from './bounded-limiter';
import { lookupEmail } from '../accounts';

/** How long a run of failed logins is remembered after its first failure; then the count starts again. */
const LOGIN_FAILURE_MEMORY_SECONDS = 24 * 60 * 60;

/** The deprecated IPv4-compatible IPv6 form, `::` and a dotted IPv4 address, as ipaddr.js recognises it. */
const IPV4_COMPATIBLE = /^::\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

/**
 * The key a client address is counted under. IPv6 is counted per /64, the smallest block one subscriber is
 * usually given: per address, one attacker would have 2^64 fresh keys. IPv4-mapped IPv6 (`::ffff:1.2.3.4`, as a
 * dual-stack socket reports IPv4 peers) counts as the IPv4 address, so one client has one key whichever way it
 * connected.
 */
export function clientNetworkKey(ip: string): string {
  if (isIPv4(ip)) return ip;
  // node:net decides what is an address, as it does for the socket; ipaddr.js (which proxy-addr already uses on the
  // same addresses) reads the groups, `::` and a dotted IPv4 tail. The zone id is cut off first: node takes any
  // (`%eth0.100`, a VLAN), ipaddr.js only letters and digits, and it names an interface, not a network.
  if (!isIPv6(ip)) return `other:${ip}`;
  const zone = ip.indexOf('%');
  const text = zone === -1 ? ip : ip.slice(0, zone);
  const address = ipaddr.IPv6.parse(text);
  // ipaddr.js reads the deprecated IPv4-compatible form `::a.b.c.d` (RFC 4291 2.5.5.1) as `::ffff:a.b.c.d`; no
  // socket reports an IPv4 peer that way, so it stays an address of ::/64, keyed with ::1 as before.
  if (address.isIPv4MappedAddress() && !IPV4_COMPATIBLE.test(text)) return address.toIPv4Address().toString();
  return `${address.parts
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(':')}::/64`;
}

/**
 * The key an account is counted under: a hash of its normalised email, or null for input no account can have
 * (nobody to protect, and no unbounded string kept in memory). Hashing keeps emails out of the limiter's store.
 */
function accountKey(rawEmail: string): string | null {
  const email = lookupEmail(rawEmail);
  return email === null ? null : createHash('sha256').update(email).digest('base64url');
}

/** One login attempt, counted as a failure from its start until it reports how it ended. */
export interface LoginAttempt {
  /** The password was right: the account's run of failures and its back-off end. */
  succeeded(): Promise<void>;
  /** The attempt never got an answer on the password (busy, fault): it does not count as a failure. */
  abandoned(): Promise<void>;
}

const UNCOUNTED_ATTEMPT: LoginAttempt = {
  succeeded: () => Promise.resolve(),
  abandoned: () => Promise.resolve(),
};

/** The counters one client and one account have now, by limit; for tests that compare the two transports. */
export interface LimitCounters {
  readonly loginPerIp: number;
  readonly loginFailures: number;
  readonly loginBackoffSeconds: number;
  readonly registerPerIp: number;
  readonly resetRequestPerIp: number;
  readonly resetRequestPerAccountAndIp: number;
  readonly resetRequestPerAccount: number;
}

/** The operations the limits use, which rate-limiter-flexible's store limiters and BoundedLimiter both offer. */
interface Limiter {
  consume(key: string, points?: number, options?: { customDuration?: number }): Promise<RateLimiterRes>;
  penalty(key: string, points?: number): Promise<RateLimiterRes>;
  reward(key: string, points?: number): Promise<RateLimiterRes>;
  get(key: string): Promise<RateLimiterRes | null>;
  delete(key: string): Promise<boolean>;
}

/**
 * Where the counters live. In memory they are per process, which is right for one instance on SQLite, and
 * bounded (BoundedCounters): the counters keyed by client network and those keyed by account are two families with
 * a cap each, so that no number of cheap per-network keys (a malformed registration costs a client nothing but its
 * network's budget) can push out an account's failures, back-off or reset count. With several instances on PostgreSQL they must be shared, or each instance would
 * grant the whole budget again: they then live in the `rate_limits` table (created by a migration), through the
 * ORM's own knex pool, or in Redis when REDIS_URL names one (faster, and it expires keys itself).
 */
export type LimiterStore =
  | { readonly kind: 'memory'; readonly byNetwork: BoundedCounters; readonly byAccount: BoundedCounters }
  | { readonly kind: 'postgres'; readonly knex: unknown; readonly tableName: string }
  | {
      readonly kind: 'redis';
      readonly client: unknown;
      readonly keyPrefix: string;
      /** Told of every store failure and success, so an outage is reported once when it begins and ends. */
      readonly health?: StoreHealth;
    };

/** Hears how the shared store's operations go: the composition root logs an outage's start and end from it. */
export interface StoreHealth {
  failed(error: unknown): void;
  succeeded(): void;
}

/** An in-memory store holding at most `maxKeys` counters: half for client networks, half for accounts. */
export function memoryStore(maxKeys: number): LimiterStore {
  const half = Math.max(Math.floor(maxKeys / 2), 2);
  return { kind: 'memory', byNetwork: new BoundedCounters(half), byAccount: new BoundedCounters(half) };
}

/** What a limiter's keys name: which family of in-memory counters it counts in. */
type KeyedBy = 'network' | 'account';

/** A limiter's shape: `points` per `duration` seconds under `keyPrefix`, and what its keys name. */
interface LimiterOptions {
  readonly keyPrefix: string;
  readonly points: number;
  readonly duration: number;
  readonly keyedBy: KeyedBy;
  /** In memory, the points at which a key is held out of reach of one-off keys (see BoundedCounters). */
  readonly holdAt?: number;
}

/** How long a client is told to wait while the shared limits' store (Redis) cannot be reached. */
export const LIMIT_STORE_RETRY_AFTER_MS = 5_000;

/** What a client is told while Redis is unreachable: the limited operation cannot be counted, so it is not run. */
const LIMIT_STORE_UNAVAILABLE = 'rate limits unavailable, try again shortly';

/**
 * A Redis-backed limiter whose store failures (connection refused or closed, command timed out) become
 * SERVICE_UNAVAILABLE with Retry-After where a limit is decided (consume, penalty, get): an operation that cannot be
 * counted is refused, never let through uncounted, since failing open would turn a Redis outage into unlimited
 * password guessing. Giving points back and forgetting a key (reward, delete) run after the operation has done its
 * work (a reset committed, a login succeeded): refusing then would tell the client to retry something that already
 * happened, so their failures are only reported to `health`, and the counter lapses with its window instead.
 * Refusals (a RateLimiterRes) pass unchanged.
 */
function failingClosed(limiter: Limiter, health: StoreHealth | undefined): Limiter {
  const guard = async <T>(operation: () => Promise<T>): Promise<T> => {
    try {
      const result = await operation();
      health?.succeeded();
      return result;
    } catch (error) {
      if (error instanceof RateLimiterRes) {
        health?.succeeded();
        throw error;
      }
      health?.failed(error);
      throw AuthError.retryLater('SERVICE_UNAVAILABLE', LIMIT_STORE_RETRY_AFTER_MS, LIMIT_STORE_UNAVAILABLE);
    }
  };
  const bestEffort = async <T>(operation: () => Promise<T>, fallback: T): Promise<T> => {
    try {
      const result = await operation();
      health?.succeeded();
      return result;
    } catch (error) {
      health?.failed(error);
      return fallback;
    }
  };
  return {
    consume: (key, points, options) => guard(() => limiter.consume(key, points, options)),
    penalty: (key, points) => guard(() => limiter.penalty(key, points)),
    get: (key) => guard(() => limiter.get(key)),
    reward: (key, points) => bestEffort(() => limiter.reward(key, points), new RateLimiterRes()),
    delete: (key) => bestEffort(() => limiter.delete(key), false),
  };
}

/** One limiter: `points` per `duration` seconds, in the given store, its keys prefixed so limiters share a table. */
function limiter(
  store: LimiterStore,
  { keyedBy, holdAt, ...options }: LimiterOptions,
  sweeper = false,
): Limiter {
  if (store.kind === 'memory') {
    const counters = keyedBy === 'network' ? store.byNetwork : store.byAccount;
    return counters.limiter(holdAt === undefined ? options : { ...options, holdAt });
  }
  if (store.kind === 'redis') {
    // Several deployments may share one Redis: every key carries the deployment's prefix.
    return failingClosed(
      new RateLimiterRedis({
        ...options,
        keyPrefix: `${store.keyPrefix}:${options.keyPrefix}`,
        storeClient: store.client,
      }),
      store.health,
    );
  }
  return new RateLimiterPostgres({
    ...options,
    storeClient: store.knex,
    storeType: 'knex',
    tableName: store.tableName,
    // The table comes from a migration; the library must not create it behind the migrations' back.
    tableCreated: true,
    // All limiters share the table: one of them deleting expired rows (hourly) is enough.
    clearExpiredByTimeout: sweeper,
  });
}

/**
 * Every brute-force and spam limit, in one object shared by the REST shim and GraphQL, so that the two
 * transports count against the same budgets and one cannot be played against the other. Each check counts one
 * execution: a GraphQL operation with several aliases of a mutation is counted once per alias.
 *
 * Logins are limited twice. Per client network, a fixed budget a minute slows one source guessing many accounts.
 * Per account, consecutive failures (from any source) lead to an exponential back-off: 1 s after the fifth, then
 * 2 s, 4 s, ... up to 5 min. A back-off always ends, so nobody can lock a victim out of their own account; a
 * correct password or a completed reset ends it at once.
 */
export class RateLimits {
  private readonly loginPerIp: Limiter;
  private readonly loginFailures: Limiter;
  private readonly loginBackoff: Limiter;
  private readonly registerPerIp: Limiter;
  private readonly resetRequestPerIp: Limiter;
  private readonly resetRequestPerAccountAndIp: Limiter;
  private readonly resetRequestPerAccount: Limiter;

  constructor(
    private readonly config: RateLimitConfig,
    private readonly store: LimiterStore = memoryStore(config.memoryMaxKeys),
  ) {
    const window = (keyPrefix: string, keyedBy: KeyedBy, limit: WindowLimit, sweeper = false): Limiter =>
      limiter(store, { keyPrefix, keyedBy, points: limit.points, duration: limit.durationSeconds }, sweeper);
    this.loginPerIp = window('login-ip', 'network', config.loginPerIp, true);
    this.loginFailures = limiter(store, {
      keyPrefix: 'login-failures',
      keyedBy: 'account',
      points: config.loginFailuresBeforeBackoff,
      duration: LOGIN_FAILURE_MEMORY_SECONDS,
    });
    // The back-off gate: one point per window, the window's length given at each consume (customDuration). In
    // memory it is held from its first point: a running back-off is exactly what a spray would try to erase.
    this.loginBackoff = limiter(store, {
      keyPrefix: 'login-backoff',
      keyedBy: 'account',
      points: 1,
      duration: 1,
      holdAt: 1,
    });
    this.registerPerIp = window('register-ip', 'network', config.registerPerIp);
    this.resetRequestPerIp = window('reset-ip', 'network', config.resetRequestPerIp);
    // Keyed by account and network together, but it guards an account: it counts with the accounts.
    this.resetRequestPerAccountAndIp = window(
      'reset-account-ip',
      'account',
      config.resetRequestPerAccountAndIp,
    );
    this.resetRequestPerAccount = window('reset-account', 'account', config.resetRequestPerAccount);
  }

  /** Stops the in-memory store's sweep timer; the shared stores are closed by their owners. */
  close(): void {
    if (this.store.kind === 'memory') {
      this.store.byNetwork.close();
      this.store.byAccount.close();
    }
  }

  /** Whether limits apply at all (false with RATE_LIMIT=off). */
  get enabled(): boolean {
    return this.config.enabled;
  }

  /**
   * Admits one login attempt, or refuses it with RATE_LIMITED and the wait. The attempt counts as a failure from now:
   * concurrent guesses cannot all slip in before the first of them is known to be wrong.
   *
   * The decision rests only on atomic store operations, so it holds across instances sharing PostgreSQL or
   * Redis: the failure count is one atomic increment, and once it reaches the threshold every attempt must also
   * win the back-off gate, a one-point limiter whose window is the back-off. Of attempts racing on several
   * instances exactly one wins each window; a read-then-write ("is there a back-off? no: count me") would let
   * every attempt that read before the first write through.
   */
  async startLogin(ip: string, rawEmail: string): Promise<Result<LoginAttempt>> {
    if (!this.enabled) return succeed(UNCOUNTED_ATTEMPT);
    const perIp = await consume(this.loginPerIp, clientNetworkKey(ip));
    if (perIp !== null) return perIp;
    const account = accountKey(rawEmail);
    if (account === null) return succeed(UNCOUNTED_ATTEMPT);
    // A cheap early refusal while a back-off is known to run; the gate below is what actually decides.
    const backingOff = await this.refuseDuringBackoff(account);
    if (backingOff !== null) return backingOff;
    // penalty() counts without ever refusing: refusing is the gate's job, not the counter's.
    const { consumedPoints } = await this.loginFailures.penalty(account);
    const gated = consumedPoints >= this.config.loginFailuresBeforeBackoff;
    if (gated) {
      try {
        // The winner's own failure sets the next window: 1 s after the fifth, doubling from there.
        await this.loginBackoff.consume(account, 1, { customDuration: this.backoffSeconds(consumedPoints) });
      } catch (refusal) {
        // Refused attempts are not failures: they never reached the password.
        await this.loginFailures.reward(account);
        if (refusal instanceof RateLimiterRes) return failRetryLater('RATE_LIMITED', refusal.msBeforeNext);
        throw refusal;
      }
    }
    return succeed({
      succeeded: () => this.clearLoginFailures(rawEmail),
      abandoned: async () => {
        // In memory a counter given back to zero goes at once (BoundedCounters.add), so a burst refused by the
        // bcrypt gate leaves no empty counter per email it tried. Shared stores keep it until its window ends: a
        // delete after the reward could erase a failure another instance counted in between.
        await this.loginFailures.reward(account);
        // This attempt took the gate, so the window is its doing; without an answer on the password it must not
        // make the owner wait.
        if (gated) await this.loginBackoff.delete(account);
      },
    });
  }

  /** RATE_LIMITED while the account's back-off window is open, else null. */
  private async refuseDuringBackoff(account: string): Promise<Failure | null> {
    const backoff = await this.loginBackoff.get(account);
    if (backoff !== null && backoff.msBeforeNext > 0 && backoff.consumedPoints >= 1) {
      return failRetryLater('RATE_LIMITED', backoff.msBeforeNext);
    }
    return null;
  }

  /** Ends an account's run of failed logins and its back-off (a correct password, a completed reset). */
  async clearLoginFailures(rawEmail: string): Promise<void> {
    const account = accountKey(rawEmail);
    if (!this.enabled || account === null) return;
    await Promise.all([this.loginFailures.delete(account), this.loginBackoff.delete(account)]);
  }

  /** Counts one registration attempt from this client: null when admitted, else RATE_LIMITED. */
  async startRegistration(ip: string): Promise<Failure | null> {
    if (!this.enabled) return null;
    return consume(this.registerPerIp, clientNetworkKey(ip));
  }

  /**
   * Counts one password-reset request from this client for this account: null when admitted, else RATE_LIMITED. Three budgets,
   * in this order: the client network's (any accounts); the account's from this network, which is all a stranger
   * can spend on someone else's account, so the owner's own request from another network is not refused; and
   * the account's from anywhere, a larger cap on the mail one inbox gets. A request refused by the second never
   * reaches the third, so a stranger's refused requests cost the owner nothing.
   */
  async startResetRequest(ip: string, rawEmail: string): Promise<Failure | null> {
    if (!this.enabled) return null;
    const network = clientNetworkKey(ip);
    const perNetwork = await consume(this.resetRequestPerIp, network);
    if (perNetwork !== null) return perNetwork;
    const account = accountKey(rawEmail);
    if (account === null) return null;
    const perAccountAndIp = await consume(this.resetRequestPerAccountAndIp, `${account}:${network}`);
    if (perAccountAndIp !== null) return perAccountAndIp;
    return consume(this.resetRequestPerAccount, account);
  }

  /** What each limit has counted for this client and account. */
  async counters(ip: string, rawEmail: string): Promise<LimitCounters> {
    const network = clientNetworkKey(ip);
    const account = accountKey(rawEmail) ?? '';
    const points = async (limiter: Limiter, key: string): Promise<number> => {
      const res = await limiter.get(key);
      return res === null || res.msBeforeNext <= 0 ? 0 : res.consumedPoints;
    };
    const backoff = await this.loginBackoff.get(account);
    return {
      loginPerIp: await points(this.loginPerIp, network),
      loginFailures: await points(this.loginFailures, account),
      loginBackoffSeconds:
        backoff === null || backoff.msBeforeNext <= 0 ? 0 : Math.ceil(backoff.msBeforeNext / 1000),
      registerPerIp: await points(this.registerPerIp, network),
      resetRequestPerIp: await points(this.resetRequestPerIp, network),
      resetRequestPerAccountAndIp: await points(this.resetRequestPerAccountAndIp, `${account}:${network}`),
      resetRequestPerAccount: await points(this.resetRequestPerAccount, account),
    };
  }

  /** The back-off after the n-th consecutive failure: initial, doubling, capped. */
  private backoffSeconds(failures: number): number {
    const { loginFailuresBeforeBackoff, loginBackoffInitialSeconds, loginBackoffMaxSeconds } = this.config;
    const doublings = Math.min(failures - loginFailuresBeforeBackoff, 32);
    return Math.min(loginBackoffInitialSeconds * 2 ** doublings, loginBackoffMaxSeconds);
  }
}

/**
 * Counts one point: null when admitted, RATE_LIMITED with the wait when refused. The library rejects with a
 * RateLimiterRes (not an Error) to refuse; that is turned into a value here, the one place it is caught.
 */
async function consume(limiter: Limiter, key: string): Promise<Failure | null> {
  try {
    await limiter.consume(key);
    return null;
  } catch (refusal) {
    if (refusal instanceof RateLimiterRes) return failRetryLater('RATE_LIMITED', refusal.msBeforeNext);
    throw refusal;
  }
}
