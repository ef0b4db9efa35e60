// bcrypt admission through both transports: a burst gets a few hashes and fast SERVICE_BUSY refusals, never a hang.
import bcrypt from 'bcrypt';
import type { LightMyRequestResponse } from 'fastify';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { graphql, LOGIN, PROFILE, REGISTER, RESET, type GraphQLErrorBody } from '../helpers/graphql';
import { sendEmpty, sendForm, sessionCookieOf } from '../helpers/http';
import { NEW_PASSWORD, PASSWORD, registeredUser, signedInUser, uniqueEmail } from '../helpers/factories';

/** The REST answer to a refused request, with Retry-After: 1. */
const BUSY_BODY = { message: 'service busy, try again shortly' };
/** The GraphQL error of a refused mutation, at `path`, as the LOGIN/REGISTER/RESET documents place it. */
function busyError(path: string): GraphQLErrorBody & { locations: { line: number; column: number }[] } {
  return {
    message: 'service busy, try again shortly',
    locations: [{ line: 2, column: 3 }],
    path: [path],
    extensions: { code: 'SERVICE_BUSY', retryAfterSeconds: 1 },
  };
}

type PromiseCompare = (data: string, hash: string) => Promise<boolean>;

/** bcrypt.compare held open: each call runs the real compare, then waits until the test releases them all. */
interface HeldCompares {
  /** How many compares have started. */
  readonly calls: () => number;
  /** Lets every held compare (and every later one) return its real answer. */
  release(): void;
}

/** Releases of everything a test held open, run after each test even when it failed half-way. */
const releases: (() => void)[] = [];

/**
 * Wraps the real bcrypt.compare so that its answer is held until `release()`: the moment at which a login holds a
 * hashing slot. Instrumentation only: bcrypt still decides; restored by jest.restoreAllMocks() after each test.
 */
function holdCompares(): HeldCompares {
  const realCompare = bcrypt.compare.bind(bcrypt) as PromiseCompare;
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  releases.push(release);
  let calls = 0;
  // bcrypt.compare is typed with its callback overload too; the service only uses the promise form.
  const spy = jest.spyOn(bcrypt, 'compare') as unknown as jest.SpiedFunction<PromiseCompare>;
  spy.mockImplementation(async (data, hash) => {
    calls += 1;
    const matches = await realCompare(data, hash);
    await released;
    return matches;
  });
  return { calls: () => calls, release };
}

/** Both places of the gate (one slot, one waiting place) taken by tasks of the test's own, until `free()`. */
interface OccupiedGate {
  free(): Promise<void>;
}

/** Fills the real gate of `app` (BCRYPT_MAX_CONCURRENCY 1, BCRYPT_MAX_QUEUE 1) with two open tasks. */
function occupyGate(app: TestApp): OccupiedGate {
  let open!: () => void;
  const held = new Promise<void>((resolve) => (open = resolve));
  releases.push(open);
  const tasks = [app.passwords.admission.run(() => held), app.passwords.admission.run(() => held)];
  expect(app.passwords.admission.load).toEqual({ running: 1, waiting: 1 });
  return {
    free: async () => {
      open();
      await Promise.all(tasks);
    },
  };
}

/** How long the refused requests of a burst may take before the test calls them stuck (they take milliseconds). */
const STUCK_AFTER_MS = 5_000;

/**
 * Resolves with the indexes of the first `count` promises to settle. Fails after STUCK_AFTER_MS, naming how many
 * did settle: refused requests that waited for the held hash instead of being answered would never settle.
 */
function firstSettled(promises: readonly Promise<unknown>[], count: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const settled: number[] = [];
    const timer = setTimeout(
      () => reject(new Error(`only ${settled.length} of ${count} requests answered while the hash was held`)),
      STUCK_AFTER_MS,
    );
    promises.forEach((promise, index) => {
      const done = (): void => {
        settled.push(index);
        if (settled.length !== count) return;
        clearTimeout(timer);
        resolve([...settled]);
      };
      promise.then(done, done);
    });
  });
}

/** A JSON log line as far as these tests read it. */
interface LogLine {
  reqId?: string;
  msg: string;
  res?: { statusCode: number };
}

/** How many sessions the database holds. */
async function sessionCount(app: TestApp): Promise<number> {
  const rows = await app.orm.em
    .getConnection()
    .execute<{ n: number }[]>('select cast(count(*) as integer) as n from sessions');
  return Number(rows[0].n);
}

afterEach(() => {
  for (const release of releases.splice(0)) release();
  jest.restoreAllMocks();
});

describe('with BCRYPT_MAX_CONCURRENCY=1 and BCRYPT_MAX_QUEUE=1', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp({ BCRYPT_MAX_CONCURRENCY: '1', BCRYPT_MAX_QUEUE: '1' });
  });
  afterAll(async () => {
    await app.close();
  });

  /** One login of the burst: how it is sent and what it must answer if it gets a hashing slot. */
  interface Attempt {
    readonly transport: 'rest' | 'graphql';
    readonly send: () => Promise<LightMyRequestResponse>;
    /** Whether the credentials are right, so an admitted attempt signs in. */
    readonly signsIn: boolean;
    readonly email: string;
  }

  /** Whether a response is the SERVICE_BUSY refusal of its transport; fails the test on any other refusal shape. */
  function isRefused(attempt: Attempt, response: LightMyRequestResponse): boolean {
    if (attempt.transport === 'rest') {
      if (response.statusCode !== 503) return false;
      expect(response.json()).toEqual(BUSY_BODY);
      expect(response.headers['retry-after']).toBe('1');
      return true;
    }
    const body = response.json<{ data?: unknown; errors?: GraphQLErrorBody[] }>();
    if (body.errors?.[0]?.extensions?.code !== 'SERVICE_BUSY') return false;
    expect(response.statusCode).toBe(200);
    expect(body).toEqual({ errors: [busyError('login')], data: null });
    return true;
  }

  /** Checks the answer of an admitted attempt against its credentials. */
  function expectAdmittedAnswer(attempt: Attempt, response: LightMyRequestResponse): void {
    if (attempt.transport === 'rest') {
      if (attempt.signsIn) {
        expect([response.statusCode, response.json()]).toEqual([
          200,
          { email: attempt.email, message: 'logged in' },
        ]);
      } else {
        expect([response.statusCode, response.json()]).toEqual([
          401,
          { message: 'invalid email or password' },
        ]);
      }
      return;
    }
    const body = response.json<{ data?: { login: { email: string } } | null; errors?: GraphQLErrorBody[] }>();
    if (attempt.signsIn) {
      expect(body.errors).toBeUndefined();
      expect(body.data?.login.email).toBe(attempt.email);
    } else {
      expect(body.errors?.map((error) => error.extensions?.code)).toEqual(['INVALID_CREDENTIALS']);
    }
  }

  it('admits two of six concurrent logins, refuses the other four while the hash is held, and loses none', async () => {
    const alice = await registeredUser(app);
    const bob = await registeredUser(app);
    const reader = await signedInUser(app);
    const sessionsBefore = await sessionCount(app);
    const logLinesBefore = app.logLines.length;

    const rest = (email: string, password: string, signsIn: boolean): Attempt => ({
      transport: 'rest',
      email,
      signsIn,
      send: () => sendForm(app, 'POST', '/sessions', { email, password }),
    });
    const gql = (email: string, password: string, signsIn: boolean): Attempt => ({
      transport: 'graphql',
      email,
      signsIn,
      send: async () => (await graphql(app, LOGIN, { email, password })).response,
    });
    const attempts = [
      rest(alice, PASSWORD, true),
      gql(alice, PASSWORD, true),
      rest(alice, 'wrong password', false),
      gql(bob, 'wrong password', false),
      rest(uniqueEmail('ghost'), PASSWORD, false),
      gql(bob, PASSWORD, true),
    ];

    const held = holdCompares();
    const answers = attempts.map((attempt) => attempt.send());

    // Four answers arrive while the one admitted compare is still held open: they never waited for bcrypt.
    const early = await firstSettled(answers, 4);
    expect(held.calls()).toBe(1);
    expect(app.passwords.admission.load).toEqual({ running: 1, waiting: 1 });
    for (const index of early) expect(isRefused(attempts[index], await answers[index])).toBe(true);

    // The cheap path does not queue behind bcrypt: a session read is answered while both places are taken.
    const profile = await sendEmpty(app, 'GET', '/profile', reader.cookie);
    expect([profile.statusCode, profile.json()]).toEqual([200, { email: reader.email }]);
    const gqlProfile = await graphql<{ profile: { email: string } }>(app, PROFILE, {}, reader.cookie);
    expect(gqlProfile.errors).toBeUndefined();
    expect(gqlProfile.data?.profile.email).toBe(reader.email);
    expect(held.calls()).toBe(1);

    held.release();
    const outcomes = await Promise.allSettled(answers);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(Array(6).fill('fulfilled'));
    const responses = await Promise.all(answers);

    const admitted = attempts.map((_attempt, index) => index).filter((index) => !early.includes(index));
    expect(admitted).toHaveLength(2);
    for (const index of admitted) {
      expect(isRefused(attempts[index], responses[index])).toBe(false);
      expectAdmittedAnswer(attempts[index], responses[index]);
    }
    expect(held.calls()).toBe(2);

    // Every admitted login with the right password really stored its session, and its cookie works.
    const signedIn = admitted.filter((index) => attempts[index].signsIn);
    expect(await sessionCount(app)).toBe(sessionsBefore + signedIn.length);
    for (const index of signedIn) {
      const me = await sendEmpty(app, 'GET', '/profile', sessionCookieOf(responses[index]));
      expect(me.json()).toEqual({ email: attempts[index].email });
    }

    // Every request was answered exactly once: one completed log line per response, under its request id.
    const ids = responses.map((response) => response.headers['x-request-id']);
    expect(new Set(ids).size).toBe(6);
    const completed = app.logLines
      .slice(logLinesBefore)
      .map((line) => JSON.parse(line) as LogLine)
      .filter((line) => line.msg === 'request completed');
    for (const [index, id] of ids.entries()) {
      const lines = completed.filter((line) => line.reqId === id);
      expect(lines.map((line) => line.res?.statusCode)).toEqual([responses[index].statusCode]);
    }

    expect(app.passwords.admission.load).toEqual({ running: 0, waiting: 0 });
    const after = await sendForm(app, 'POST', '/sessions', { email: alice, password: PASSWORD });
    expect([after.statusCode, after.json()]).toEqual([200, { email: alice, message: 'logged in' }]);
  });

  it('refuses a registration at once when the gate is full, keeps nothing, and registers it afterwards', async () => {
    const gate = occupyGate(app);
    const restEmail = uniqueEmail();
    const gqlEmail = uniqueEmail();
    try {
      const restAnswer = await sendForm(app, 'POST', '/users', { email: restEmail, password: PASSWORD });
      expect([restAnswer.statusCode, restAnswer.json()]).toEqual([503, BUSY_BODY]);
      expect(restAnswer.headers['retry-after']).toBe('1');
      const gqlAnswer = await graphql(app, REGISTER, { email: gqlEmail, password: PASSWORD });
      expect(gqlAnswer.errors).toEqual([busyError('register')]);
      expect(gqlAnswer.data).toBeNull();
    } finally {
      await gate.free();
    }
    for (const email of [restEmail, gqlEmail]) {
      const registered = await sendForm(app, 'POST', '/users', { email, password: PASSWORD });
      expect([registered.statusCode, registered.json()]).toEqual([200, { email, message: 'user created' }]);
    }
  });

  it('issues reset tokens while the gate is full (no hash), refuses the reset itself, and the token still works after', async () => {
    const email = await registeredUser(app);
    const gate = occupyGate(app);
    let token: string;
    try {
      const issued = await sendForm(app, 'POST', '/reset_password', { email });
      expect(issued.statusCode).toBe(200);
      token = issued.json<{ reset_token: string }>().reset_token;

      const restReset = await sendForm(app, 'PUT', '/reset_password', {
        email,
        reset_token: token,
        new_password: NEW_PASSWORD,
      });
      expect([restReset.statusCode, restReset.json()]).toEqual([503, BUSY_BODY]);
      expect(restReset.headers['retry-after']).toBe('1');
      const gqlReset = await graphql(app, RESET, { email, resetToken: token, newPassword: NEW_PASSWORD });
      expect(gqlReset.errors).toEqual([busyError('resetPassword')]);
    } finally {
      await gate.free();
    }
    const reset = await sendForm(app, 'PUT', '/reset_password', {
      email,
      reset_token: token,
      new_password: NEW_PASSWORD,
    });
    expect([reset.statusCode, reset.json()]).toEqual([200, { email, message: 'Password updated' }]);
    const login = await sendForm(app, 'POST', '/sessions', { email, password: NEW_PASSWORD });
    expect(login.statusCode).toBe(200);
  });

  it('holds a slot for the whole of a registration hash: the gate counts it while bcrypt runs', async () => {
    type PromiseHash = (data: string, rounds: number) => Promise<string>;
    const realHash = bcrypt.hash.bind(bcrypt) as PromiseHash;
    let started!: () => void;
    const hashing = new Promise<void>((resolve) => (started = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const spy = jest.spyOn(bcrypt, 'hash') as unknown as jest.SpiedFunction<PromiseHash>;
    spy.mockImplementation(async (data, rounds) => {
      started();
      const hash = await realHash(data, rounds);
      await released;
      return hash;
    });
    const email = uniqueEmail();

    const registration = sendForm(app, 'POST', '/users', { email, password: PASSWORD });
    await hashing;
    expect(app.passwords.admission.load).toEqual({ running: 1, waiting: 0 });
    release();
    expect((await registration).json()).toEqual({ email, message: 'user created' });
    expect(app.passwords.admission.load).toEqual({ running: 0, waiting: 0 });
  });
});

describe('refused logins and the login back-off (RATE_LIMIT=on)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp({ RATE_LIMIT: 'on', BCRYPT_MAX_CONCURRENCY: '1', BCRYPT_MAX_QUEUE: '1' });
  });
  afterAll(async () => {
    await app.close();
  });

  it('does not count a SERVICE_BUSY login as a failed one, on either transport', async () => {
    const email = await registeredUser(app);
    const gate = occupyGate(app);
    try {
      // One more than the failures that start the back-off (5), one after the other.
      for (let attempt = 0; attempt < 6; attempt += 1) {
        if (attempt % 2 === 0) {
          const answer = await sendForm(app, 'POST', '/sessions', { email, password: 'wrong password' });
          expect([answer.statusCode, answer.json()]).toEqual([503, BUSY_BODY]);
        } else {
          const answer = await graphql(app, LOGIN, { email, password: 'wrong password' });
          expect(answer.errors).toEqual([busyError('login')]);
        }
      }
      const counters = await app.limits.counters('127.0.0.1', email);
      expect(counters.loginFailures).toBe(0);
      expect(counters.loginBackoffSeconds).toBe(0);
    } finally {
      await gate.free();
    }

    // A wrong password with a slot free does count: the zero above is not a counter that never moves.
    const wrong = await sendForm(app, 'POST', '/sessions', { email, password: 'wrong password' });
    expect(wrong.statusCode).toBe(401);
    expect((await app.limits.counters('127.0.0.1', email)).loginFailures).toBe(1);
    const right = await sendForm(app, 'POST', '/sessions', { email, password: PASSWORD });
    expect(right.statusCode).toBe(200);
  });

  it('does not count concurrent SERVICE_BUSY logins as failed ones', async () => {
    const email = await registeredUser(app);
    const gate = occupyGate(app);
    try {
      const answers = await Promise.all(
        [0, 1, 2, 3].map((index) =>
          index % 2 === 0
            ? sendForm(app, 'POST', '/sessions', { email, password: 'wrong password' })
            : graphql(app, LOGIN, { email, password: 'wrong password' }).then((answer) => answer.response),
        ),
      );
      expect(answers.map((answer) => answer.statusCode)).toEqual([503, 200, 503, 200]);
      expect((await app.limits.counters('127.0.0.1', email)).loginFailures).toBe(0);
    } finally {
      await gate.free();
    }
  });

  it('leaves no back-off when as many concurrent logins as RATE_LIMIT_LOGIN_FAILURES are all refused', async () => {
    const email = await registeredUser(app);
    const gate = occupyGate(app);
    try {
      const answers = await Promise.all(
        [0, 1, 2, 3, 4].map(() => sendForm(app, 'POST', '/sessions', { email, password: 'wrong password' })),
      );
      expect(answers.map((answer) => answer.statusCode)).toEqual([503, 503, 503, 503, 503]);
      expect(await app.limits.counters('127.0.0.1', email)).toMatchObject({
        loginFailures: 0,
        loginBackoffSeconds: 0,
      });
    } finally {
      await gate.free();
    }
    const owner = await sendForm(app, 'POST', '/sessions', { email, password: PASSWORD });
    expect(owner.statusCode).toBe(200);
  });
});
