// Which outside servers (PostgreSQL, Redis) the test run has, and which suites need them: decided once, before collection.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** A server some suites need, and how a run is pointed at one. */
export interface ServerKind {
  readonly name: 'PostgreSQL' | 'Redis';
  /** The pragma a suite's first comment block carries to say it needs this server (`@needs postgres`). */
  readonly pragma: string;
  /** The variable that names the server; set, the suites must run. */
  readonly variable: string;
  /** The local server of shared/services.md, tried when the variable is unset. */
  readonly localUrl: string;
}

export const POSTGRES: ServerKind = {
  name: 'PostgreSQL',
  pragma: 'postgres',
  variable: 'TEST_DATABASE_URL',
  localUrl: 'postgres://postgres@127.0.0.1:5432/test',
};

export const REDIS: ServerKind = {
  name: 'Redis',
  pragma: 'redis',
  variable: 'TEST_REDIS_URL',
  localUrl: 'redis://127.0.0.1:6379',
};

/** The URL the run uses for a server: its variable's when set (and not empty), else the local one. */
export function serverUrl(kind: ServerKind): string {
  const configured = process.env[kind.variable];
  return configured === undefined || configured === '' ? kind.localUrl : configured;
}

/**
 * Whether a run must have the server: under CI, or when its variable names one. Then a missing server fails the
 * run instead of skipping suites, so a green CI always means every suite ran.
 */
export function serverRequired(kind: ServerKind): boolean {
  const configured = process.env[kind.variable];
  return process.env.CI === 'true' || (configured !== undefined && configured !== '');
}

/**
 * Whether something accepts TCP connections at the URL's host and port, within two seconds. Synchronous (a child
 * process), because jest decides which suites to collect before anything asynchronous can run.
 */
export function listens(url: string): boolean {
  const { hostname, port } = new URL(url);
  const defaultPort = url.startsWith('redis') ? 6379 : 5432;
  const probe = spawnSync(
    process.execPath,
    [
      '-e',
      `const s = require('node:net').connect(${Number(port || defaultPort)}, ${JSON.stringify(hostname.replace(/^\[|\]$/g, ''))});
       s.setTimeout(2000, () => process.exit(1));
       s.on('connect', () => process.exit(0)).on('error', () => process.exit(1));`,
    ],
    { timeout: 5000 },
  );
  return probe.status === 0;
}

/** Every test file under `directory` (relative to `root`) whose header declares `@needs <pragma>`. */
export function suitesNeeding(kind: ServerKind, root: string, directory = join(root, 'tests')): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) found.push(...suitesNeeding(kind, root, path));
    else if (entry.name.endsWith('.test.ts') && needs(readFileSync(path, 'utf8'), kind)) {
      found.push(relative(root, path));
    }
  }
  return found.sort();
}

/** Whether a test file's header (its first lines of comments) says `@needs <pragma>`. */
function needs(source: string, kind: ServerKind): boolean {
  const header = source.split('\n').slice(0, 5).join('\n');
  return new RegExp(`@needs\\b[^\\n]*\\b${kind.pragma}\\b`).test(header);
}

/**
 * The suites this run must leave out because their server is missing, each kind with one line to say so. A server
 * that is required but missing throws instead: nothing may skip silently under CI or when a variable asked for it.
 * @throws Error naming the server, the URL tried and the variable.
 */
export function suitesWithoutTheirServer(root: string): { ignored: string[]; lines: string[] } {
  const ignored: string[] = [];
  const lines: string[] = [];
  for (const kind of [POSTGRES, REDIS]) {
    const url = serverUrl(kind);
    const suites = suitesNeeding(kind, root);
    if (suites.length === 0 || listens(url)) continue;
    const where = new URL(url).host;
    if (serverRequired(kind)) {
      throw new Error(
        `${kind.name} is required (${process.env.CI === 'true' ? 'CI=true' : `${kind.variable} is set`}) but ` +
          `nothing listens at ${where}: ${suites.length} suites need it (${suites.join(', ')})`,
      );
    }
    ignored.push(...suites);
    lines.push(
      `skipped ${suites.length} suites that need ${kind.name} (nothing listens at ${where}): start it, or set ` +
        `${kind.variable}=${kind.localUrl.replace(/127\.0\.0\.1/, 'host')} to run them (README, "Tests that need PostgreSQL or Redis")`,
    );
  }
  return { ignored, lines };
}

/**
 * The server's URL when it listens, null when it does not and the run may go without it; for a suite that runs
 * partly without the server (its other tests still run). Throws like suitesWithoutTheirServer when required.
 */
export function availableServerUrl(kind: ServerKind): string | null {
  const url = serverUrl(kind);
  if (listens(url)) return url;
  if (serverRequired(kind)) {
    throw new Error(
      `${kind.name} is required but nothing listens at ${new URL(url).host} (${kind.variable})`,
    );
  }
  return null;
}
