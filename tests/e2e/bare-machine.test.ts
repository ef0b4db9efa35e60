// `npm test` on a machine with only Node: the suites that need PostgreSQL or Redis are left out with one line each,
// and under CI a missing server fails the run. Run for real in a network namespace where only loopback is up.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { POSTGRES, REDIS, suitesNeeding } from '../helpers/servers';

const ROOT = join(__dirname, '..', '..');

/** Whether this machine lets the test make a network namespace of its own (root, or user namespaces allowed). */
const CAN_ISOLATE = spawnSync('unshare', ['-n', 'true']).status === 0;
if (!CAN_ISOLATE && process.env.CI === 'true') {
  throw new Error('CI=true but `unshare -n` is not permitted here: the bare-machine test cannot run');
}

/** What jest's --json report says of one run. */
interface JestReport {
  readonly numPassedTests: number;
  readonly numFailedTests: number;
  readonly numPendingTests: number;
  readonly testResults: readonly { readonly name: string }[];
}

/** The suites the issue named as failing without servers, and the one that already skipped its outage tests. */
const SUITES = [
  'tests/integration/postgres-migrations.test.ts',
  'tests/integration/shared-limits.test.ts',
  'tests/e2e/durability.test.ts',
  'tests/e2e/two-instances.test.ts',
  'tests/integration/redis-limits.test.ts',
  'tests/integration/database-outage.test.ts',
];

/**
 * Runs jest on SUITES inside a new network namespace with only loopback up: nothing listens at PostgreSQL's or
 * Redis's port there, as on a newcomer's laptop. The build is the outer run's (AUTH_TEST_BUILT).
 */
function runWithoutServers(env: Record<string, string>): {
  status: number | null;
  stderr: string;
  report: JestReport | null;
} {
  const directory = mkdtempSync(join(tmpdir(), 'auth-bare-'));
  try {
    const output = join(directory, 'report.json');
    const jest = [
      process.execPath,
      join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js'),
      '--json',
      `--outputFile=${output}`,
      ...SUITES,
    ];
    const quoted = jest.map((part) => `'${part.replace(/'/g, `'\\''`)}'`).join(' ');
    const inherited = { ...process.env };
    // The outer run's own server settings must not reach the bare machine.
    for (const name of ['CI', 'TEST_DATABASE_URL', 'TEST_REDIS_URL']) delete inherited[name];
    const child = spawnSync('unshare', ['-n', 'sh', '-c', `ip link set lo up && exec ${quoted}`], {
      cwd: ROOT,
      env: { ...inherited, AUTH_TEST_BUILT: 'true', ...env },
      encoding: 'utf8',
      timeout: 120_000,
    });
    let report: JestReport | null = null;
    try {
      report = JSON.parse(readFileSync(output, 'utf8')) as JestReport;
    } catch {
      report = null;
    }
    return { status: child.status, stderr: child.stderr, report };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

const describeIsolated = CAN_ISOLATE ? describe : describe.skip;

describeIsolated(
  `a machine without PostgreSQL and Redis${CAN_ISOLATE ? '' : ' (skipped: `unshare -n` not permitted)'}`,
  () => {
    it('passes, leaving out the server suites with one line for each server saying how to run them', () => {
      const { status, stderr, report } = runWithoutServers({});
      expect(status).toBe(0);
      expect(stderr).toContain(
        `skipped ${suitesNeeding(POSTGRES, ROOT).length} suites that need PostgreSQL (nothing listens at 127.0.0.1:5432): start it, or set ` +
          'TEST_DATABASE_URL=postgres://postgres@host:5432/test to run them (README, "Tests that need PostgreSQL or Redis")',
      );
      expect(stderr).toContain(
        `skipped ${suitesNeeding(REDIS, ROOT).length} suites that need Redis (nothing listens at 127.0.0.1:6379): start it, or set ` +
          'TEST_REDIS_URL=redis://host:6379 to run them (README, "Tests that need PostgreSQL or Redis")',
      );
      // Only the outage suite ran: its outage tests skipped, the classification tests beside them passed.
      expect(report?.testResults.map((result) => result.name)).toEqual([
        join(ROOT, 'tests/integration/database-outage.test.ts'),
      ]);
      expect(report?.numFailedTests).toBe(0);
      expect(report?.numPendingTests).toBeGreaterThan(0);
      expect(report?.numPassedTests).toBeGreaterThan(0);
    }, 150_000);

    it.each([
      ['CI=true', { CI: 'true' }, 'PostgreSQL is required (CI=true) but nothing listens at 127.0.0.1:5432'],
      [
        'TEST_REDIS_URL set',
        { TEST_REDIS_URL: 'redis://127.0.0.1:6379' },
        'Redis is required (TEST_REDIS_URL is set) but nothing listens at 127.0.0.1:6379',
      ],
    ])(
      'fails with %s instead of skipping anything',
      (_case, env, message) => {
        const { status, stderr } = runWithoutServers(env);
        expect(status).not.toBe(0);
        expect(stderr).toContain(message);
      },
      150_000,
    );
  },
);
