// SQLite storage faults answered 503 SERVICE_UNAVAILABLE (never a 500, never a lost write acknowledged), then recovered.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorCodes, graphql, REGISTER } from '../helpers/graphql';
import { sendEmpty, sendForm, sessionCookieOf } from '../helpers/http';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { PASSWORD, uniqueEmail } from '../helpers/factories';

const UNAVAILABLE = {
  status: 503,
  retryAfter: '5',
  body: '{"message":"database unavailable, try again shortly"}',
};

/** POST /users with a new email: status, Retry-After and body. */
async function register(app: TestApp): Promise<{ status: number; retryAfter: unknown; body: string }> {
  const response = await sendForm(app, 'POST', '/users', { email: uniqueEmail('disk'), password: PASSWORD });
  return { status: response.statusCode, retryAfter: response.headers['retry-after'], body: response.body };
}

/** /readyz's status and reason. */
async function readiness(app: TestApp): Promise<unknown> {
  const response = await sendEmpty(app, 'GET', '/readyz');
  return [response.statusCode, response.json()];
}

describe('a database file removed or replaced while the service runs', () => {
  let directory: string;
  let app: TestApp;
  beforeEach(async () => {
    directory = mkdtempSync(join(tmpdir(), 'auth-vanished-'));
    app = await createTestApp({ DATABASE_URL: join(directory, 'auth.sqlite') });
    expect((await register(app)).status).toBe(200);
  });
  afterEach(async () => {
    await app.close();
    rmSync(directory, { recursive: true, force: true });
  });

  it.each([
    ['removed', (path: string) => unlinkSync(path)],
    [
      'replaced',
      (path: string) => {
        writeFileSync(`${path}.restored`, '');
        renameSync(`${path}.restored`, path);
      },
    ],
  ])(
    '%s: every write is refused with 503 on both transports, /readyz says why, /healthz stays up',
    async (what, fault) => {
      fault(join(directory, 'auth.sqlite'));
      expect(await register(app)).toEqual(UNAVAILABLE);
      const answer = await graphql(app, REGISTER, { email: uniqueEmail('disk'), password: PASSWORD });
      expect(errorCodes(answer)).toEqual(['SERVICE_UNAVAILABLE']);
      expect(await readiness(app)).toEqual([
        503,
        { status: 'not ready', reason: `database file was ${what} while open` },
      ]);
      expect((await sendEmpty(app, 'GET', '/healthz')).statusCode).toBe(200);
      expect(
        app.logLines.filter((line) => line.includes(`database file was ${what} while open`)).length,
      ).toBe(1);
    },
  );
});

/** Whether this process may mount a tmpfs (root, as CI runs): a full disk needs a filesystem of its own. */
function canMount(): boolean {
  const probe = mkdtempSync(join(tmpdir(), 'auth-mount-probe-'));
  try {
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe]).status === 0;
    if (mounted) spawnSync('umount', [probe]);
    return mounted;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

const MOUNTABLE = canMount();
if (!MOUNTABLE && process.env.CI === 'true') {
  throw new Error('CI=true but this process cannot mount a tmpfs: the disk-full test cannot run');
}
const describeWithMount = MOUNTABLE ? describe : describe.skip;

describeWithMount(
  `a small filesystem of its own${MOUNTABLE ? '' : ' (skipped: mount not permitted)'}`,
  () => {
    let directory: string;
    let app: TestApp;
    beforeAll(async () => {
      directory = mkdtempSync(join(tmpdir(), 'auth-small-disk-'));
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', directory]);
      app = await createTestApp({ DATABASE_URL: join(directory, 'auth.sqlite') });
    });
    afterAll(async () => {
      await app.close();
      spawnSync('umount', [directory]);
      rmSync(directory, { recursive: true, force: true });
    });

    it('full: registrations answer 503 (nothing half-written), /readyz says why, and both recover once space is freed', async () => {
      expect((await register(app)).status).toBe(200);
      expect(await readiness(app)).toEqual([200, { status: 'ready' }]);
      const filler = join(directory, 'filler');
      spawnSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k']);
      const answers = [];
      for (let i = 0; i < 20; i += 1) answers.push(await register(app));
      expect(answers.filter((answer) => answer.status !== 200)[0]).toEqual(UNAVAILABLE);
      expect(answers.every((answer) => answer.status === 200 || answer.status === 503)).toBe(true);
      // `select 1` still works on a full disk: readiness knows from the failed writes.
      expect(await readiness(app)).toEqual([
        503,
        { status: 'not ready', reason: 'database storage failing (SQLITE_FULL)' },
      ]);
      expect(app.logLines.filter((line) => line.includes('"msg":"database storage failing')).length).toBe(1);
      unlinkSync(filler);
      expect((await register(app)).status).toBe(200);
      // Ten quiet seconds later the instance reports ready again.
      app.clock.advanceSeconds(10);
      expect(await readiness(app)).toEqual([200, { status: 'ready' }]);
    });
  },
);

/** Whether files in the system's temporary folder can be made immutable (root, on ext4 or xfs, as CI runs). */
function canMakeImmutable(): boolean {
  const probe = mkdtempSync(join(tmpdir(), 'auth-immutable-probe-'));
  const file = join(probe, 'file');
  try {
    writeFileSync(file, '');
    const made = spawnSync('chattr', ['+i', file]).status === 0;
    if (made) spawnSync('chattr', ['-i', file]);
    return made;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

const IMMUTABLE = canMakeImmutable();
if (!IMMUTABLE && process.env.CI === 'true') {
  throw new Error('CI=true but this process cannot chattr +i: the read-only test cannot run');
}
const describeWithImmutable = IMMUTABLE ? describe : describe.skip;

describeWithImmutable(
  `a database file made read-only while open${IMMUTABLE ? '' : ' (skipped: chattr +i not permitted)'}`,
  () => {
    let directory: string;
    let files: string[];
    let app: TestApp;
    beforeAll(async () => {
      directory = mkdtempSync(join(tmpdir(), 'auth-read-only-'));
      const database = join(directory, 'auth.sqlite');
      // The file and its write-ahead log, where every write goes first: chmod would not stop root (as CI runs),
      // nor a descriptor already open, but the immutable flag stops both, as a filesystem turned read-only does.
      files = [database, `${database}-wal`];
      app = await createTestApp({ DATABASE_URL: database });
    });
    afterAll(async () => {
      for (const file of files) spawnSync('chattr', ['-i', file]);
      await app.close();
      rmSync(directory, { recursive: true, force: true });
    });

    it('writes answer 503 on both transports, /readyz says why, reads go on, and all recover once it is writable', async () => {
      const email = uniqueEmail('ro');
      const registered = await sendForm(app, 'POST', '/users', { email, password: PASSWORD });
      expect(registered.statusCode).toBe(200);
      const login = await sendForm(app, 'POST', '/sessions', { email, password: PASSWORD });
      expect(login.statusCode).toBe(200);
      const cookie = sessionCookieOf(login);
      for (const file of files) execFileSync('chattr', ['+i', file]);
      try {
        expect(await register(app)).toEqual(UNAVAILABLE);
        const answer = await graphql(app, REGISTER, { email: uniqueEmail('ro'), password: PASSWORD });
        expect(errorCodes(answer)).toEqual(['SERVICE_UNAVAILABLE']);
        // The file guard sees it before any write does (see DatabaseFile).
        expect(await readiness(app)).toEqual([
          503,
          { status: 'not ready', reason: 'database file is not writable' },
        ]);
        expect(await sendEmpty(app, 'GET', '/healthz')).toMatchObject({ statusCode: 200 });
        const profile = await sendEmpty(app, 'GET', '/profile', cookie);
        expect([profile.statusCode, profile.json()]).toEqual([200, { email }]);
      } finally {
        for (const file of files) execFileSync('chattr', ['-i', file]);
      }
      expect((await register(app)).status).toBe(200);
      app.clock.advanceSeconds(10);
      expect(await readiness(app)).toEqual([200, { status: 'ready' }]);
    });
  },
);
