// End to end: the built server (`node dist/src/main.js`) on a free port and a fresh SQLite file, driven over real HTTP.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MAIN = join(__dirname, '..', '..', 'dist', 'src', 'main.js');

interface RunningServer {
  readonly child: ChildProcessWithoutNullStreams;
  readonly baseUrl: string;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

/** Starts the built server and waits for its "listening" line. */
async function startServer(env: Record<string, string>): Promise<RunningServer> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), BCRYPT_ROUNDS: '4', ...env },
  });
  let text = '';
  child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 20_000;
  while (!text.includes('Server listening')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`server did not start:\n${text}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { child, baseUrl: `http://127.0.0.1:${port}`, output: () => text, exited };
}

function form(fields: Record<string, string>): RequestInit {
  return {
    body: new URLSearchParams(fields).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  };
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'auth-e2e-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

it("runs the exercise's whole flow over HTTP, then stops cleanly on SIGTERM", async () => {
  const server = await startServer({ DATABASE_URL: join(dir, 'auth.sqlite') });
  const url = (path: string): string => `${server.baseUrl}${path}`;
  const email = 'bob@example.com';
  try {
    const welcome = await fetch(url('/'));
    expect([welcome.status, await welcome.text()]).toEqual([200, '{"message":"Bienvenue"}']);

    const register = await fetch(url('/users'), {
      method: 'POST',
      ...form({ email, password: 'mySecurePassword' }),
    });
    expect([register.status, await register.json()]).toEqual([200, { email, message: 'user created' }]);

    const wrong = await fetch(url('/sessions'), {
      method: 'POST',
      ...form({ email, password: 'not my password' }),
    });
    expect(wrong.status).toBe(401);

    expect((await fetch(url('/profile'))).status).toBe(403);

    const login = await fetch(url('/sessions'), {
      method: 'POST',
      ...form({ email, password: 'mySecurePassword' }),
    });
    expect([login.status, await login.json()]).toEqual([200, { email, message: 'logged in' }]);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
    expect(cookie).toMatch(/^session_id=[A-Za-z0-9_-]{43}$/);

    const profile = await fetch(url('/profile'), { headers: { cookie } });
    expect([profile.status, await profile.json()]).toEqual([200, { email }]);

    const logout = await fetch(url('/sessions'), {
      method: 'DELETE',
      headers: { cookie },
      redirect: 'manual',
    });
    expect([logout.status, logout.headers.get('location')]).toEqual([302, '/']);
    expect((await fetch(url('/profile'), { headers: { cookie } })).status).toBe(403);

    const reset = await fetch(url('/reset_password'), { method: 'POST', ...form({ email }) });
    const { reset_token: resetToken } = (await reset.json()) as { reset_token: string };
    expect(reset.status).toBe(200);

    const update = await fetch(url('/reset_password'), {
      method: 'PUT',
      ...form({ email, reset_token: resetToken, new_password: 'myNewPassword' }),
    });
    expect([update.status, await update.json()]).toEqual([200, { email, message: 'Password updated' }]);

    const old = await fetch(url('/sessions'), {
      method: 'POST',
      ...form({ email, password: 'mySecurePassword' }),
    });
    expect(old.status).toBe(401);
    const fresh = await fetch(url('/sessions'), {
      method: 'POST',
      ...form({ email, password: 'myNewPassword' }),
    });
    expect(fresh.status).toBe(200);

    // The same account through GraphQL, as Apollo Client sends it.
    const gql = await fetch(url('/graphql'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: 'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { email } }',
        variables: { e: email, p: 'myNewPassword' },
      }),
    });
    expect(await gql.json()).toEqual({ data: { login: { email } } });
    const gqlCookie = (gql.headers.get('set-cookie') ?? '').split(';')[0];
    const me = await fetch(url('/graphql'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: gqlCookie },
      body: JSON.stringify({ query: '{ profile { email } }' }),
    });
    expect(await me.json()).toEqual({ data: { profile: { email } } });
  } finally {
    server.child.kill('SIGTERM');
  }
  expect(await server.exited).toBe(0);
  expect(server.output()).toContain('stopping: finishing in-flight requests');
});

it('finishes a request in flight when SIGTERM arrives, and keeps its data for the next start', async () => {
  const database = join(dir, 'auth.sqlite');
  // A real bcrypt cost makes the registration slow enough to still be running when the signal arrives.
  const first = await startServer({ DATABASE_URL: database, BCRYPT_ROUNDS: '13' });
  const pending = fetch(`${first.baseUrl}/users`, {
    method: 'POST',
    ...form({ email: 'carol@example.com', password: 'sunlit-harbour-42' }),
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
  first.child.kill('SIGTERM');
  const response = await pending;
  expect([response.status, await response.json()]).toEqual([
    200,
    { email: 'carol@example.com', message: 'user created' },
  ]);
  expect(await first.exited).toBe(0);

  const second = await startServer({ DATABASE_URL: database });
  try {
    expect(second.output()).not.toContain('applied migrations');
    const login = await fetch(`${second.baseUrl}/sessions`, {
      method: 'POST',
      ...form({ email: 'carol@example.com', password: 'sunlit-harbour-42' }),
    });
    expect(login.status).toBe(200);
  } finally {
    second.child.kill('SIGTERM');
  }
  expect(await second.exited).toBe(0);
});

it.each([
  ['BCRYPT_ROUNDS', 'abc'],
  ['PORT', '99999'],
  ['COOKIE_SECURE', 'perhaps'],
])('refuses to start when %s=%s, naming the variable, with exit code 1', async (name, value) => {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: join(dir, 'auth.sqlite'), [name]: value },
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  expect(code).toBe(1);
  expect(stderr).toContain(`${name}:`);
});

it('migrates a fresh database with `node dist/src/migrate.js`, and finds nothing pending the second time', () => {
  const run = (): { status: number | null; stderr: string } => {
    const result = spawnSync(process.execPath, [join(__dirname, '..', '..', 'dist', 'src', 'migrate.js')], {
      env: { PATH: process.env.PATH ?? '', DATABASE_URL: join(dir, 'auth.sqlite') },
      encoding: 'utf8',
    });
    return { status: result.status, stderr: result.stderr };
  };
  expect(run()).toEqual({
    status: 0,
    stderr:
      'applied Migration20261127063929, Migration20261127094330, Migration20261203100000, Migration20261203110000, Migration20261204100000\n',
  });
  expect(run()).toEqual({ status: 0, stderr: 'no pending migrations\n' });
});
