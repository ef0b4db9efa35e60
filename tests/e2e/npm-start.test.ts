// `npm start` as a production host runs it: no rebuild, no dev-only package loaded, and SIGTERM to npm drains and exits.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeStatus, startServerWith, type ServerProcess } from '../helpers/server-process';

const ROOT = join(__dirname, '..', '..');

let directory: string;
let packages: string;
beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'auth-npm-start-'));
  // What `npm ci --omit=dev` would install: every other package under node_modules is there only for development.
  packages = join(directory, 'production-packages.txt');
  const listed = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  writeFileSync(packages, listed);
});
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/** The pids of a process's direct children. */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** Whether a process with this pid still exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `npm start` in production, every node process it starts (npm included) refusing dev-only packages. */
function npmStartInProduction(): Promise<ServerProcess> {
  return startServerWith('npm', ['start', '--silent'], {
    NODE_ENV: 'production',
    DATABASE_URL: join(directory, 'auth.sqlite'),
    LOG_LEVEL: 'info',
    RESET_TOKEN_DELIVERY: 'email',
    SMTP_URL: 'smtp://127.0.0.1:2525',
    RESET_URL_TEMPLATE: 'https://app.example.com/reset?token={token}',
    COOKIE_SECURE: 'false',
    ALLOW_INSECURE_COOKIES: 'true',
    NODE_OPTIONS: `--require ${join(ROOT, 'tests', 'helpers', 'forbid-dev-packages.cjs')}`,
    AUTH_TEST_PRODUCTION_PACKAGES: packages,
    AUTH_TEST_PROJECT_ROOT: ROOT,
  });
}

it('starts the built dist/ in production without rebuilding or loading any dev-only package', async () => {
  const server = await npmStartInProduction();
  try {
    const profile = await fetch(`${server.baseUrl}/profile`);
    expect(profile.status).toBe(403);
    expect(server.output()).not.toContain('dev-only package');
  } finally {
    // SIGTERM, which npm forwards: SIGKILL would end npm alone and leave the server running.
    server.child.kill('SIGTERM');
    await server.ended;
  }
}, 60_000);

it('drains and exits with status 0 when SIGTERM goes to the npm process, leaving no server behind', async () => {
  const server = await npmStartInProduction();
  const npmPid = server.child.pid ?? 0;
  const serverPids = childrenOf(npmPid);
  expect(serverPids).toHaveLength(1);
  server.child.kill('SIGTERM');
  expect(await server.ended).toEqual({ code: 0, signal: null });
  expect(await probeStatus(server.port, '/healthz')).toBeNull();
  for (const pid of serverPids) expect(alive(pid)).toBe(false);
  expect(server.output()).toContain('stopping: finishing in-flight requests');
}, 60_000);
