// A Redis outage with the limits in Redis: frozen or stopped, limited operations answer 503 (never 500 or a hang).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorCodes, graphql, REGISTER } from '../helpers/graphql';
import { sendEmpty, sendForm, sessionCookieOf } from '../helpers/http';
import { freePort } from '../helpers/server-process';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { NEW_PASSWORD, PASSWORD, uniqueEmail } from '../helpers/factories';

/**
 * A hang guard, not a speed target: a limited request must end well before HANDLER_TIMEOUT_SECONDS would end it,
 * and far sooner than an outage (the frozen server answers nothing at all).
 */
const ANSWER_WITHIN_MS = 10_000;
const UNAVAILABLE = {
  status: 503,
  retryAfter: '5',
  body: '{"message":"rate limits unavailable, try again shortly"}',
};

/** This suite's own Redis, so stopping it never disturbs the suites using the machine's. */
const HAS_REDIS_SERVER = spawnSync('redis-server', ['--version']).status === 0;
if (!HAS_REDIS_SERVER && process.env.CI === 'true') {
  throw new Error('CI=true but redis-server is not installed: the Redis outage suite cannot run');
}

/** Starts redis-server on the port, keeping nothing on disk, and waits until it accepts connections. */
async function startRedis(port: number, directory: string): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', directory],
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 100; i += 1) {
    if (
      spawnSync('redis-cli', ['-p', String(port), 'ping'])
        .stdout?.toString()
        .trim() === 'PONG'
    )
      return child;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('redis-server did not start');
}

/** Stops a redis-server and waits for its exit. */
async function stopRedis(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const ended = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await ended;
}

/** A request's answer as the tests compare it, and whether it came in time. */
async function timed<T>(request: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const answer = await request();
  expect(Date.now() - started).toBeLessThan(ANSWER_WITHIN_MS);
  return answer;
}

/** POST /users: status, Retry-After and body. */
async function register(app: TestApp): Promise<{ status: number; retryAfter: unknown; body: string }> {
  const response = await timed(() =>
    sendForm(app, 'POST', '/users', { email: uniqueEmail('outage'), password: PASSWORD }),
  );
  return { status: response.statusCode, retryAfter: response.headers['retry-after'], body: response.body };
}

/** How many log lines say the outage began. */
function outageLines(app: TestApp): number {
  return app.logLines.filter((line) => line.includes('redis unreachable')).length;
}

/** Polls /readyz until it answers `status`, for at most 10 s. */
async function waitForReadiness(app: TestApp, status: number): Promise<void> {
  for (let i = 0; i < 100; i += 1) {
    if ((await sendEmpty(app, 'GET', '/readyz')).statusCode === status) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`/readyz never answered ${status}`);
}

const describeWithRedisServer = HAS_REDIS_SERVER ? describe : describe.skip;

describeWithRedisServer(
  `a Redis outage${HAS_REDIS_SERVER ? '' : ' (skipped: redis-server not installed)'}`,
  () => {
    let directory: string;
    let port: number;
    let redis: ChildProcess;
    let app: TestApp;
    let cookie: string;
    let email: string;

    beforeAll(async () => {
      directory = mkdtempSync(join(tmpdir(), 'auth-redis-outage-'));
      port = await freePort();
      redis = await startRedis(port, directory);
      app = await createTestApp({
        REDIS_URL: `redis://127.0.0.1:${port}`,
        RATE_LIMIT: 'on',
        RATE_LIMIT_REGISTER_PER_IP: '1000/1m',
      });
      email = uniqueEmail('owner');
      expect((await sendForm(app, 'POST', '/users', { email, password: PASSWORD })).statusCode).toBe(200);
      cookie = sessionCookieOf(await sendForm(app, 'POST', '/sessions', { email, password: PASSWORD }));
    });
    afterAll(async () => {
      if (redis.signalCode === null && redis.exitCode === null) redis.kill('SIGCONT');
      await app.close();
      await stopRedis(redis);
      rmSync(directory, { recursive: true, force: true });
    });

    it('frozen (SIGSTOP): limited operations answer 503 SERVICE_UNAVAILABLE on both transports, the profile still works, /readyz says why', async () => {
      redis.kill('SIGSTOP');
      try {
        expect(await register(app)).toEqual(UNAVAILABLE);
        const answer = await timed(() =>
          graphql(app, REGISTER, { email: uniqueEmail('outage'), password: PASSWORD }),
        );
        expect(errorCodes(answer)).toEqual(['SERVICE_UNAVAILABLE']);
        expect(answer.errors?.[0]?.extensions?.retryAfterSeconds).toBe(5);
        expect((await timed(() => sendEmpty(app, 'GET', '/profile', cookie))).statusCode).toBe(200);
        const ready = await timed(() => sendEmpty(app, 'GET', '/readyz'));
        expect([ready.statusCode, ready.json()]).toEqual([
          503,
          { status: 'not ready', reason: 'rate-limit store (redis) unreachable' },
        ]);
      } finally {
        redis.kill('SIGCONT');
      }
      await waitForReadiness(app, 200);
      expect((await register(app)).status).toBe(200);
    });

    it('stopped: 503 for the whole outage, logged once, and served again when Redis is back, with no restart', async () => {
      const before = outageLines(app);
      const { reset_token: resetToken } = (await sendForm(app, 'POST', '/reset_password', { email })).json<{
        reset_token: string;
      }>();
      await stopRedis(redis);
      // A reset is not limited, and clearing the login back-off after it is best effort: the committed reset is
      // answered as done, not "try again" (its token is used up, a retry could only fail).
      const reset = await timed(() =>
        sendForm(app, 'PUT', '/reset_password', {
          email,
          reset_token: resetToken,
          new_password: NEW_PASSWORD,
        }),
      );
      expect([reset.statusCode, reset.json()]).toEqual([200, { email, message: 'Password updated' }]);
      for (let i = 0; i < 3; i += 1) expect(await register(app)).toEqual(UNAVAILABLE);
      const login = await timed(() =>
        sendForm(app, 'POST', '/sessions', { email: uniqueEmail('x'), password: PASSWORD }),
      );
      expect(login.statusCode).toBe(503);
      await waitForReadiness(app, 503);
      expect(outageLines(app) - before).toBe(1);
      expect(
        app.logLines.filter((line) => line.includes('"request failed"') && line.includes('503')).length,
      ).toBe(0);
      redis = await startRedis(port, directory);
      await waitForReadiness(app, 200);
      expect((await register(app)).status).toBe(200);
      expect(app.logLines.some((line) => line.includes('redis reachable again'))).toBe(true);
    });
  },
);
