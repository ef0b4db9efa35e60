// Every curl example of the README and docs/ that talks to one server, each document's in its order against a fresh built server.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brokenPromise, documentCurlBlocks, runCurl, type ReadmeStep } from '../helpers/readme';
import { startServer, type ServerProcess } from '../helpers/server-process';

/** Whether a block talks to the one server of `npm start` on port 5000; the two-instance one is readme-postgres's. */
const onOneServer = (block: readonly ReadmeStep[]): boolean =>
  block.every((step) => !/localhost:500[1-9]/.test(step.command));

/** The blocks a newcomer runs against `npm start` on port 5000, per document, in the documents' order. */
const DOCUMENTS = documentCurlBlocks()
  .map(({ path, blocks }) => ({ path, blocks: blocks.filter(onOneServer) }))
  .filter((document) => document.blocks.length > 0);
const BLOCKS = DOCUMENTS.flatMap((document) => document.blocks);

it('finds the REST, GraphQL and cross-site blocks, every command with the answer it promises', () => {
  expect(BLOCKS.length).toBeGreaterThanOrEqual(3);
  const unpromised = BLOCKS.flat().filter((step) => step.expected === null);
  expect(unpromised).toEqual([]);
});

it('finds the REST and GraphQL tour in the README, and the blocks that moved in the pages they moved to', () => {
  const where = new Map(DOCUMENTS.map((document) => [document.path, document.blocks.flat()]));
  const readme = where.get('README.md') ?? [];
  for (const path of ['/users', '/sessions', '/profile', '/reset_password', '/graphql'])
    expect(readme.some((step) => step.command.includes(`localhost:5000${path}`))).toBe(true);
  // The cookie-jar example (docs/rest.md), the cross-site refusal (docs/security.md), the probes (docs/operations.md).
  expect(where.get('docs/rest.md')?.some((step) => step.command.startsWith('curl -c jar'))).toBe(true);
  expect(
    where.get('docs/security.md')?.some((step) => step.command.includes('Sec-Fetch-Site: cross-site')),
  ).toBe(true);
  expect(where.get('docs/operations.md')?.some((step) => step.command.includes('/readyz'))).toBe(true);
});

describe.each(DOCUMENTS)('$path', ({ path, blocks }) => {
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

  /** What the run learnt that the document only names: the session cookie and the reset token. */
  const learnt = { session: '<no login yet>', resetToken: '<no reset yet>' };

  /** The command as the run can send it: our port, and the values the document leaves for the reader to fill in. */
  function runnable(step: ReadmeStep): string {
    return step.command
      .replaceAll('localhost:5000', `127.0.0.1:${server.port}`)
      .replace(/<session_id[a-z_]*>/g, learnt.session)
      .replaceAll('q9W...', learnt.resetToken);
  }

  it(`answers every command as ${path} promises, in its order`, () => {
    for (const step of blocks.flat()) {
      const output = runCurl(runnable(step), directory);
      const problem = brokenPromise(step.expected ?? '', output);
      expect({ path, line: step.line, command: step.command, problem }).toEqual({
        path,
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
});
