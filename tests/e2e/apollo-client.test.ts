// End to end: the Apollo Client example (examples/apollo-client) against the built server on a fresh SQLite file.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDemo } from '../../examples/apollo-client/src/client';
import { PASSWORD } from '../helpers/factories';
import { startServer, type ServerProcess } from '../helpers/server-process';

const ROOT = join(__dirname, '..', '..');
/** ts-node's command line, as `npm run example:apollo` runs it. */
const TS_NODE = join(ROOT, 'node_modules', 'ts-node', 'dist', 'bin.js');
const EXAMPLE = join(ROOT, 'examples', 'apollo-client', 'src', 'index.ts');

/** How one run of the example program ended, and what it printed. */
interface ExampleRun {
  readonly code: number | null;
  readonly stdout: string[];
  readonly stderr: string[];
}

/** Runs the example program as a user would (`npm run example:apollo -- <url>`), with only PATH and `env`. */
async function runExample(url: string, env: Readonly<Record<string, string>>): Promise<ExampleRun> {
  const child = spawn(process.execPath, [TS_NODE, '--transpile-only', EXAMPLE, url], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const lines = (text: string): string[] => text.split('\n').filter((line) => line !== '');
  return { code, stdout: lines(stdout), stderr: lines(stderr) };
}

let dir: string;
let server: ServerProcess;
let url: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'auth-apollo-'));
  server = await startServer({
    DATABASE_URL: join(dir, 'auth.sqlite'),
    LOG_LEVEL: 'silent',
    BCRYPT_ROUNDS: '4',
  });
  url = `${server.baseUrl}/graphql`;
});

afterAll(async () => {
  server.child.kill('SIGTERM');
  await server.ended;
  rmSync(dir, { recursive: true, force: true });
});

describe('the example program', () => {
  const email = `apollo-cli-${process.pid}@example.com`;

  it('prints every step of register, login, profile and logout, then exits 0', async () => {
    const run = await runExample(url, { DEMO_EMAIL: email });
    expect(run.stderr).toEqual([]);
    // The user id depends on what other tests registered first; everything else is exact.
    expect(
      run.stdout.map((line) => line.replace(/^register: created user \d+ /, 'register: created user <id> ')),
    ).toEqual([
      `server: ${url}`,
      `register: created user <id> (${email})`,
      'profile before login: null',
      `login: signed in as ${email}; cookies held: session_id`,
      `profile: ${email}`,
      'logout: true; cookies held: none',
      'profile after logout: null',
      'ok',
    ]);
    expect(run.code).toBe(0);
  });

  it("exits 1 with the server's error code when a step is refused (the email is already registered)", async () => {
    const run = await runExample(url, { DEMO_EMAIL: email });
    expect(run).toEqual({
      code: 1,
      stdout: [`server: ${url}`],
      stderr: ['failed: EMAIL_TAKEN: email already registered'],
    });
  });
});

describe('runDemo', () => {
  it('answers with the registered user while signed in, null after logout, and empties the cookie jar', async () => {
    const email = `Apollo-Direct-${process.pid}@Example.COM`;
    const storedEmail = email.toLowerCase();
    const lines: string[] = [];

    const result = await runDemo(url, email, PASSWORD, (line) => lines.push(line));

    const user = { id: result.registered.id, email: storedEmail };
    expect(result).toEqual({
      registered: { id: expect.stringMatching(/^\d+$/) as unknown, email: storedEmail },
      profileBeforeLogin: null,
      loggedIn: user,
      cookiesAfterLogin: ['session_id'],
      profile: user,
      loggedOut: true,
      cookiesAfterLogout: [],
      profileAfterLogout: null,
    });
    expect(lines).toEqual([
      `register: created user ${user.id} (${storedEmail})`,
      'profile before login: null',
      `login: signed in as ${storedEmail}; cookies held: session_id`,
      `profile: ${storedEmail}`,
      'logout: true; cookies held: none',
      'profile after logout: null',
    ]);
  });
});
