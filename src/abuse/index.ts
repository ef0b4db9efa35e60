// The abuse module's public surface: rate limits and their stores, and the client network key.
export { BoundedCounters, HOLD_AT_POINTS } from './bounded-limiter';
export {
  clientNetworkKey,
  LIMIT_STORE_RETRY_AFTER_MS,
  memoryStore,
  RateLimits,
  type LimitCounters,
  type LimiterStore,
  type LoginAttempt,
  type StoreHealth,
} from './rate-limits';
export { openLimiterStore, type OpenedLimiterStore } from './stores';
