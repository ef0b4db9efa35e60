// What the benchmark sends: seeded sessions, and the requests of each scenario (profile, login, register, mixed).
import type autocannon from 'autocannon';
import type { TaggedRequest } from './load';

/** A password every benchmark account uses: not a common password, and not containing any email's local part. */
export const BENCH_PASSWORD = 'Bench-pass-7f3K9q2x';

/** The GraphQL operation of the GraphQL profile scenario and its baseline. */
export const PROFILE_QUERY_BODY = JSON.stringify({ query: '{ profile { email } }' });

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

function form(fields: Readonly<Record<string, string>>): string {
  return new URLSearchParams(fields).toString();
}

/** GET /profile with one session's cookie. */
export function restProfile(token: string): TaggedRequest {
  return { kind: 'profile', method: 'GET', path: '/profile', headers: { cookie: `session_id=${token}` } };
}

/** POST /graphql `{ profile { email } }` with one session's cookie (JSON, as Apollo's CSRF prevention wants). */
export function graphqlProfile(token: string): TaggedRequest {
  return {
    kind: 'profile',
    method: 'POST',
    path: '/graphql',
    headers: { 'content-type': 'application/json', cookie: `session_id=${token}` },
    body: PROFILE_QUERY_BODY,
  };
}

/** POST /sessions with valid credentials. */
export function login(email: string): TaggedRequest {
  return {
    kind: 'login',
    method: 'POST',
    path: '/sessions',
    headers: FORM,
    body: form({ email, password: BENCH_PASSWORD }),
  };
}

/**
 * POST /users with a fresh email on every send; the emails that registered (200) are handed to `registered`,
 * so the login scenario can use accounts hashed at the configured cost.
 */
export function register(emailFor: (n: number) => string, registered: string[]): TaggedRequest {
  let sent = 0;
  return {
    kind: 'register',
    method: 'POST',
    path: '/users',
    headers: FORM,
    body: form({ email: emailFor(0), password: BENCH_PASSWORD }),
    setupRequest: (request: autocannon.Request) => ({
      ...request,
      body: form({ email: emailFor(sent++), password: BENCH_PASSWORD }),
    }),
    onResponse: (status, body) => {
      if (status === 200) registered.push((JSON.parse(body) as { email: string }).email);
    },
  };
}

/** `items` starting at `offset`, wrapping around: each connection starts at a different session. */
export function rotated<T>(items: readonly T[], offset: number): T[] {
  const start = ((offset % items.length) + items.length) % items.length;
  return [...items.slice(start), ...items.slice(0, start)];
}

/** Shares of the mixed scenario, per 100 requests. */
export const MIXED_SHARES = { profile: 90, login: 9, register: 1 } as const;

/** Requests in one cycle of the mixed scenario. */
export const MIXED_CYCLE = MIXED_SHARES.profile + MIXED_SHARES.login + MIXED_SHARES.register;

/**
 * One connection's cycle of 100 mixed requests: 90 profile reads over distinct sessions, 9 logins spread evenly
 * among them, and 1 registration.
 */
export function mixedCycle(
  profile: (n: number) => TaggedRequest,
  loginAs: (n: number) => TaggedRequest,
  registration: TaggedRequest,
): TaggedRequest[] {
  const cycle: TaggedRequest[] = [];
  const total = MIXED_CYCLE;
  const loginEvery = Math.floor(total / MIXED_SHARES.login);
  let profiles = 0;
  let logins = 0;
  for (let slot = 0; slot < total; slot += 1) {
    if (slot === total - 1) cycle.push(registration);
    else if (slot % loginEvery === loginEvery - 1 && logins < MIXED_SHARES.login)
      cycle.push(loginAs(logins++));
    else cycle.push(profile(profiles++));
  }
  return cycle;
}
