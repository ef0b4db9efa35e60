// The source of "now" for every expiry decision, injectable so tests can move time without waiting.

/** Tells the current time. Production uses the system clock; tests pass one they can advance. */
export interface Clock {
  now(): Date;
}

/** The wall clock. */
export const systemClock: Clock = { now: () => new Date() };
