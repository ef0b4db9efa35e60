// The two-instance example of docs/operations.md, run as written: two `npm start`s on one PostgreSQL database, then its curls.
// @needs postgres: left out of a run without PostgreSQL (TEST_DATABASE_URL, or the local server), with a line saying so (jest.config.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scratchDatabase } from '../helpers/postgres';
import { brokenPromise, documentCurlBlocks, runCurl } from '../helpers/readme';
import { MAIN, startServerWith, type ServerProcess } from '../helpers/server-process';

/** The document that holds the example (docs/operations.md), and the block. */
const FOUND = documentCurlBlocks()
  .flatMap(({ path, blocks }) => blocks.map((block) => ({ path, block })))
  .find(({ block }) => block.some((step) => step.command.includes('localhost:5001')));
const BLOCK = FOUND?.block;

let directory: string;
let database: Awaited<ReturnType<typeof scratchDatabase>>;
const servers = new Map<string, ServerProcess>();
beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'auth-readme-pg-'));
  // The document's `createdb -U postgres auth`, under a name of this run's own.
  database = await scratchDatabase('readme');
});
afterAll(async () => {
  for (const server of servers.values()) {
    server.child.kill('SIGTERM');
    await server.ended;
  }
  await database.drop();
  rmSync(directory, { recursive: true, force: true });
});

it('starts both instances as the docs say, and answers its curls as they promise', async () => {
  expect(BLOCK).toBeDefined();
  expect(FOUND?.path).toBe('docs/operations.md');
  for (const step of BLOCK ?? []) {
    const start = /^DATABASE_URL=\S+ PORT=(\d+) npm start$/.exec(step.command);
    if (start !== null) {
      // The built server, as `npm start` runs it, on this run's database instead of `auth`; its port is the
      // document's port mapped to a free one.
      const server = await startServerWith(process.execPath, [MAIN], {
        NODE_ENV: 'development',
        // The document's URL names the local server; this run's scratch database on the run's server stands in.
        DATABASE_URL: database.url,
        LOG_LEVEL: 'silent',
      });
      servers.set(start[1] ?? '', server);
      continue;
    }
    let command = step.command;
    for (const [port, server] of servers)
      command = command.replaceAll(`localhost:${port}`, `127.0.0.1:${server.port}`);
    const output = runCurl(command, directory);
    if (step.expected !== null) {
      expect({ command: step.command, problem: brokenPromise(step.expected, output) }).toEqual({
        command: step.command,
        problem: null,
      });
    }
  }
  expect(servers.size).toBe(2);
}, 60_000);
