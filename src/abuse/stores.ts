// Where the rate-limit counters live: Redis, PostgreSQL's table or this process's memory, chosen and watched here.
import { Redis } from 'ioredis';
import type { Config } from '../config';
import { errorForLog, type Logger } from '../shared';
import { memoryStore, type LimiterStore, type StoreHealth } from './rate-limits';

/** How long one Redis command (or connecting) may take before the limited request is answered 503. */
const REDIS_COMMAND_TIMEOUT_MS = 1000;

/** How long a Redis connection may stay silent with commands outstanding before it is torn down. */
const REDIS_SOCKET_TIMEOUT_MS = 2000;

/** A limits store and what its owner does with it over the app's life. */
export interface OpenedLimiterStore {
  readonly store: LimiterStore;
  /** Resolves once the store can answer, or after a bounded wait (a store that is down delays start no more). */
  readonly ready: Promise<void>;
  /** Why the store keeps the instance from serving, or null (only Redis can be unreachable). */
  notReadyReason(): Promise<string | null>;
  /** Closes the store's connection, waiting for commands in flight. */
  close(): Promise<void>;
  /** Drops the connection at once: after a failed start, so nothing keeps reconnecting (and the process alive). */
  abandon(): void;
}

/**
 * Opens the store the limits count in: Redis when REDIS_URL is set, else PostgreSQL's table when the database is
 * PostgreSQL (instances must count together), else this process's memory (SQLite means one instance, and memory is
 * the cheapest store).
 */
export function openLimiterStore(config: Config, knex: unknown, log: Logger): OpenedLimiterStore {
  if (config.redisUrl !== null) return openRedisStore(config.redisUrl, config.redisKeyPrefix, log);
  const store: LimiterStore =
    config.database.dialect === 'postgresql'
      ? { kind: 'postgres', knex, tableName: 'rate_limits' }
      : memoryStore(config.rateLimit.memoryMaxKeys);
  return {
    store,
    ready: Promise.resolve(),
    notReadyReason: () => Promise.resolve(null),
    close: () => Promise.resolve(),
    abandon: () => undefined,
  };
}

function openRedisStore(url: string, keyPrefix: string, log: Logger): OpenedLimiterStore {
  const client = new Redis(url, {
    // Fail fast rather than queue commands while Redis is down: the limited operation is answered 503 at once.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // A frozen Redis (stopped, partitioned) accepts or keeps a connection and never answers: without a bound
    // every login would hang for the whole outage. Limit checks take well under a millisecond when it is well.
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    connectTimeout: REDIS_COMMAND_TIMEOUT_MS,
    // A command timeout only rejects the promise: the command stays queued on a connection that looks alive, and
    // a frozen Redis would collect every limited request's command (memory) and run them all when it wakes
    // (counting refused attempts). A socket silent this long is torn down, dropping what it holds.
    socketTimeout: REDIS_SOCKET_TIMEOUT_MS,
  });
  const health = watchRedis(client, log);
  return {
    store: { kind: 'redis', client, keyPrefix, health },
    ready: untilReady(client),
    notReadyReason: async () => {
      try {
        await client.ping();
        health.succeeded();
        return null;
      } catch (error) {
        health.failed(error);
        return 'rate-limit store (redis) unreachable';
      }
    },
    close: async () => {
      await client.quit().catch(() => client.disconnect());
    },
    abandon: () => client.disconnect(),
  };
}

/**
 * Resolves when the client is connected, or after REDIS_COMMAND_TIMEOUT_MS whatever happened: the first requests
 * after a start then find Redis ready, and a Redis that is down at start delays it by no more than that (the limited
 * operations answer 503 until it is back, and /readyz says why).
 */
function untilReady(client: Redis): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, REDIS_COMMAND_TIMEOUT_MS);
    client.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Logs a Redis outage once when it begins and once when it ends. ioredis reports every failed reconnect as an
 * `error`, several a second, and a frozen Redis reports nothing at all (its commands just time out): the limits
 * tell this of every failed and successful command too, and the operator gets one line for each change.
 */
function watchRedis(client: Redis, log: Logger): StoreHealth {
  let down = false;
  const health: StoreHealth = {
    failed: (error: unknown) => {
      if (down) return;
      down = true;
      log.error(
        { error: errorForLog(error) },
        'redis unreachable: limited operations answer 503 until it is back',
      );
    },
    succeeded: () => {
      if (!down) return;
      down = false;
      log.info('redis reachable again');
    },
  };
  client.on('error', (error: Error) => health.failed(error));
  return health;
}
