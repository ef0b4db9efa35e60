// Changed session lifetimes: a lowered one applies to sessions issued before, a raised one extends none.
import { valueOrThrow } from '../../src/errors';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestApp } from '../helpers/test-app';
import { PASSWORD, uniqueEmail } from '../helpers/factories';

const SECONDS_PER_MINUTE = 60;
const SECONDS_PER_HOUR = 60 * SECONDS_PER_MINUTE;
/** An idle TTL far below the default 7 days. */
const SHORT_IDLE_TTL_SECONDS = 10 * SECONDS_PER_MINUTE;

let dir: string;
let databaseUrl: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'auth-lifetimes-'));
  databaseUrl = join(dir, 'auth.sqlite');
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Logs in on an instance with these lifetimes (default: 7 days idle, 30 days absolute); `afterLogin` runs there. */
async function sessionIssuedUnder(
  env: Record<string, string> = {},
  afterLogin?: (advance: (seconds: number) => Promise<void>) => Promise<void>,
): Promise<string> {
  const before = await createTestApp({ DATABASE_URL: databaseUrl, ...env });
  try {
    const email = uniqueEmail();
    await before.accounts.registerUser(email, PASSWORD);
    const { token } = valueOrThrow(await before.accounts.login(email, PASSWORD));
    await afterLogin?.(async (seconds) => {
      before.clock.advanceSeconds(seconds);
      expect(await before.sessions.getUserFromSessionId(token)).not.toBeNull();
    });
    return token;
  } finally {
    await before.close();
  }
}

it('ends an old session once it has been idle longer than a lowered idle TTL', async () => {
  const token = await sessionIssuedUnder();
  const after = await createTestApp({
    DATABASE_URL: databaseUrl,
    SESSION_IDLE_TTL_SECONDS: '600',
    SESSION_TOUCH_INTERVAL_SECONDS: '60',
  });
  try {
    after.clock.advanceSeconds(601);
    expect(await after.sessions.getUserFromSessionId(token)).toBeNull();
  } finally {
    await after.close();
  }
});

it('ends an old, recently used session once it is older than a lowered absolute TTL', async () => {
  // Used half an hour after login, so it is not idle under either configuration; only its age can end it.
  const token = await sessionIssuedUnder({ SESSION_TOUCH_INTERVAL_SECONDS: '60' }, (advance) =>
    advance(30 * SECONDS_PER_MINUTE),
  );
  const after = await createTestApp({
    DATABASE_URL: databaseUrl,
    SESSION_IDLE_TTL_SECONDS: String(50 * SECONDS_PER_MINUTE),
    SESSION_ABSOLUTE_TTL_SECONDS: String(SECONDS_PER_HOUR),
    SESSION_TOUCH_INTERVAL_SECONDS: String(40 * SECONDS_PER_MINUTE),
  });
  try {
    after.clock.advanceSeconds(55 * SECONDS_PER_MINUTE);
    expect(await after.sessions.getUserFromSessionId(token)).not.toBeNull();
    after.clock.advanceSeconds(6 * SECONDS_PER_MINUTE);
    expect(await after.sessions.getUserFromSessionId(token)).toBeNull();
  } finally {
    await after.close();
  }
});

it('keeps the stored expiry of an old session when the idle TTL is raised: it ends 600 s after login', async () => {
  const token = await sessionIssuedUnder({
    SESSION_IDLE_TTL_SECONDS: String(SHORT_IDLE_TTL_SECONDS),
    SESSION_TOUCH_INTERVAL_SECONDS: String(SECONDS_PER_MINUTE),
  });
  // The default lifetimes: 7 days idle, touched at most hourly, so nothing here rewrites the stored expiry.
  const after = await createTestApp({ DATABASE_URL: databaseUrl });
  try {
    expect(await after.sessions.getUserFromSessionId(token)).not.toBeNull();
    after.clock.advanceSeconds(SHORT_IDLE_TTL_SECONDS + 1);
    expect(await after.sessions.getUserFromSessionId(token)).toBeNull();
  } finally {
    await after.close();
  }
});
