// Every curl example of the README that talks to one server, run in the README's order against the built server.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brokenPromise, curlBlocks, runCurl, type ReadmeStep } from '../helpers/readme';
import { startServer, type ServerProcess } from '../helpers/server-process';

/** The blocks a newcomer runs against `npm start` on port 5000; the two-instance one is readme-postgres's. */
const BLOCKS = curlBlocks().filter((block) =>
  block.every((step) => !/localhost:500[1-9]/.test(step.command)),
);

let directory: string;
let server: ServerProcess;
beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'auth-readme-'));
  // As `npm start` on a fresh clone: development, an empty SQLite file, every default.
  server = await startServer({
    NODE_ENV: 'development',
    DATABASE_URL: join(directory, 'auth.sqlite'),
    LOG_LEVEL: 'silent',
  });
});
afterAll(async () => {
  server.child.kill('SIGTERM');
  await server.ended;
  rmSync(directory, { recursive: true, force: true });
});

it('finds the REST, GraphQL and cross-site blocks, every command with the answer it promises', () => {
  expect(BLOCKS.length).toBeGreaterThanOrEqual(3);
  const unpromised = BLOCKS.flat().filter((step) => step.expected === null);
  expect(unpromised).toEqual([]);
});

/** What the run learnt that the README only names: the session cookie and the reset token. */
const learnt = { session: '<no login yet>', resetToken: '<no reset yet>' };

/** The command as the run can send it: our port, and the values the README leaves for the reader to fill in. */
function runnable(step: ReadmeStep): string {
  return step.command
    .replaceAll('localhost:5000', `127.0.0.1:${server.port}`)
    .replace(/<session_id[a-z_]*>/g, learnt.session)
    .replaceAll('q9W...', learnt.resetToken);
}

it('answers every command as the README promises, in the README order', () => {
  for (const step of BLOCKS.flat()) {
    const output = runCurl(runnable(step), directory);
    const problem = brokenPromise(step.expected ?? '', output);
    expect({ line: step.line, command: step.command, problem }).toEqual({
      line: step.line,
      command: step.command,
      problem: null,
    });
    const cookie = /^< set-cookie: session_id=([^;]+);/im.exec(output.stderr);
    if (cookie?.[1] !== undefined) learnt.session = cookie[1];
    const token = /"reset_token":"([^"]+)"/.exec(output.stdout);
    if (token?.[1] !== undefined) learnt.resetToken = token[1];
  }
});
