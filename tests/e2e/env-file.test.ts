// The built server reads .env from its working directory, and the environment wins over the file.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, MAIN, probeStatus } from '../helpers/server-process';

let directory: string;
beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'auth-env-file-'));
});
afterAll(() => rmSync(directory, { recursive: true, force: true }));

it('serves on the port and database a .env names, unless the environment sets them', async () => {
  const [filePort, environmentPort] = [await freePort(), await freePort()];
  writeFileSync(
    join(directory, '.env'),
    [
      `PORT=${filePort}`,
      'HOST=127.0.0.1',
      `DATABASE_URL=${join(directory, 'auth.sqlite')}`,
      'LOG_LEVEL=silent',
      "MAIL_FROM='Accounts <no-reply@example.com>'",
      '',
    ].join('\n'),
  );
  for (const [env, port] of [
    [{}, filePort],
    [{ PORT: String(environmentPort) }, environmentPort],
  ] as const) {
    const child = spawn(process.execPath, [MAIN], {
      cwd: directory,
      env: { PATH: process.env.PATH ?? '', ...env },
    });
    const ended = new Promise((resolve) => child.once('exit', resolve));
    try {
      let status: number | null = null;
      for (let i = 0; i < 200 && status !== 200; i += 1) {
        status = await probeStatus(port, '/healthz');
        if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(status).toBe(200);
    } finally {
      child.kill('SIGTERM');
      await ended;
    }
  }
}, 60_000);
