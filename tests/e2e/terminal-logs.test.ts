// Development logs are readable on a terminal (pino-pretty); piped or in production they stay one JSON object a line.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, MAIN, probeStatus } from '../helpers/server-process';

let directory: string;
beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'auth-terminal-logs-'));
});
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/**
 * Runs the built server until it answers /healthz, then stops it, and returns what it printed. With `tty`, under
 * util-linux's `script`, which gives it a pseudo-terminal as stdout, as a developer's shell does.
 */
async function outputOf(nodeEnv: string, tty: boolean): Promise<string> {
  const port = await freePort();
  const env = {
    PATH: process.env.PATH ?? '',
    NODE_ENV: nodeEnv,
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: join(directory, `${nodeEnv}-${String(tty)}.sqlite`),
    ...(nodeEnv === 'production'
      ? { ALLOW_INSECURE_RESET_DELIVERY: 'true', RESET_TOKEN_DELIVERY: 'response' }
      : {}),
  };
  const child = tty
    ? spawn('script', ['-qefc', `exec ${process.execPath} ${MAIN}`, '/dev/null'], { env, detached: true })
    : spawn(process.execPath, [MAIN], { env, detached: true });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const ended = new Promise((resolve) => child.once('exit', resolve));
  try {
    for (let i = 0; i < 200 && (await probeStatus(port, '/healthz')) !== 200; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    process.kill(-(child.pid ?? 0), 'SIGTERM');
    await ended;
  }
  return output;
}

it('prints readable lines on a terminal in development', async () => {
  const output = await outputOf('development', true);
  expect(output).toMatch(/INFO.*Server listening at/);
  expect(output).not.toContain('{"level":');
}, 60_000);

it.each([
  ['development, piped', 'development', false],
  ['production, on a terminal', 'production', true],
])(
  'prints one JSON object a line %s',
  async (_case, nodeEnv, tty) => {
    const output = await outputOf(nodeEnv, tty);
    const listening = output.split(/\r?\n/).find((line) => line.includes('Server listening at'));
    const entry = JSON.parse(listening ?? 'null') as { level: number; msg: string } | null;
    expect(entry?.level).toBe(30);
    expect(entry?.msg).toContain('Server listening at');
  },
  60_000,
);
