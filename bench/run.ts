// `npm run bench`: builds and starts the production server, loads it with autocannon, and compares it with its baselines.
import './lib/threadpool';
import bcrypt from 'bcrypt';
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { Accumulated, closedLoop, paced, type PassResult, type TaggedRequest } from './lib/load';
import {
  installProcessGuards,
  onCleanup,
  runCleanups,
  runCommand,
  startServer,
  type MemoryPeak,
  type RunningServer,
} from './lib/processes';
import { details, failures, joined, kindOf, okLatency, okPerSecond, openLoop, percent } from './lib/passes';
import { rate, renderSvg, renderTable, writeJson, type Report, type Row } from './lib/report';
import { multiplySessions, seedAccounts } from './lib/seed';
import { evaluateTargets, FLOOD_FACTOR, withRatio } from './lib/targets';
import {
  BENCH_PASSWORD,
  graphqlProfile,
  login,
  mixedCycle,
  MIXED_CYCLE,
  MIXED_SHARES,
  register,
  restProfile,
  rotated,
} from './lib/workload';

const ROOT = resolve(__dirname, '..');
// Ignored by git: a run's results are the machine's and the moment's, never a change to commit.
const RESULTS_DIR = join(ROOT, 'bench', 'out');
const MAIN = join(ROOT, 'dist', 'src', 'main.js');
const BUILD_STAMP = join(ROOT, 'dist', '.bench-build-stamp');
const TS_NODE = ['-r', 'ts-node/register/transpile-only'];

/** The service's default bcrypt cost (docs/operations.md, "Configuration"), used unless BCRYPT_ROUNDS says otherwise. */
const DEFAULT_BCRYPT_ROUNDS = 12;
/** The cheapest cost bcrypt allows: seeding needs accounts and sessions, not strong hashes. */
const SEED_BCRYPT_ROUNDS = 4;
/** Seeded sessions per account made through the API; the rest are copies of those sessions. */
const SESSIONS_PER_SEEDED_ACCOUNT = 10;
const MIB = 1024 * 1024;
const MS_PER_SECOND = 1000;

/** How long each pass runs. */
interface Plan {
  readonly mode: 'quick' | 'full';
  /** Warm-up of each server before its first measured read pass (JIT, caches). */
  readonly warmUpSeconds: number;
  /** Read maxima are measured in rounds that alternate service and baseline, this long each. */
  readonly readRounds: number;
  readonly readSliceSeconds: number;
  /** The open-loop pass at half the maximum. */
  readonly halfSeconds: number;
  /** The raw bcrypt baseline, run once before and once after the login pass. */
  readonly bcryptSeconds: number;
  /** Register, login, mixed and flood passes. */
  readonly hashSeconds: number;
  readonly sessions: number;
  /** The whole run may not take longer than this; children are killed and the run fails. */
  readonly deadlineMs: number;
}

const PLANS: Record<'quick' | 'full', Plan> = {
  quick: {
    mode: 'quick',
    warmUpSeconds: 1,
    readRounds: 2,
    readSliceSeconds: 1.5,
    halfSeconds: 2,
    bcryptSeconds: 2,
    hashSeconds: 4,
    sessions: 1000,
    deadlineMs: 240_000,
  },
  full: {
    mode: 'full',
    warmUpSeconds: 3,
    readRounds: 4,
    readSliceSeconds: 4,
    halfSeconds: 10,
    bcryptSeconds: 6,
    hashSeconds: 12,
    sessions: 2000,
    deadlineMs: 1_200_000,
  },
};

/** Connections of the closed-loop read passes (the service and both baselines alike). */
const READ_CONNECTIONS = 32;
/**
 * GET /profile runs alongside the login flood at this share of the bare Fastify baseline's maximum: a steady,
 * moderate read load, the same for every build of the service compared (a share of the service's own maximum would
 * make a faster service carry more reads through the flood). During the flood bcrypt keeps every core busy, so the
 * question is whether reads are still answered promptly, not how many fit.
 */
const FLOOD_PROFILE_SHARE = 0.1;
/** The fixed-rate pass runs at this share of the measured maximum. */
const HALF = 0.5;

interface Options {
  readonly plan: Plan;
  readonly build: 'auto' | 'always' | 'never';
  /** The service's entry point: this checkout's build, or another one given with --service. */
  readonly main: string;
  readonly cpuProfileDir: string | null;
  readonly readsOnly: boolean;
  readonly keep: boolean;
}

const HELP = `npm run bench [-- options]
  --quick          about a minute: short passes, 1,000 sessions (the CI smoke run)
  --build          always run \`npm run build\` first (default: only when sources changed since the last bench build)
  --no-build       never build; use dist/ as it is
  --cpu-prof[=dir] run the servers under node --cpu-prof; profiles go to dir (default /tmp/auth-bench-profiles)
  --reads-only     only the profile reads and their baselines (no bcrypt scenarios)
  --keep           keep the temporary directory (databases, server logs)
  --service=path   benchmark another build of the service (its dist/src/main.js, e.g. of an older commit); no build
BENCH_DATABASE_URL=postgres://... runs the service scenarios on PostgreSQL as well (a fresh database, dropped after).
`;

function parseOptions(argv: readonly string[]): Options {
  const known = [
    '--quick',
    '--build',
    '--no-build',
    '--cpu-prof',
    '--reads-only',
    '--keep',
    '--service',
    '--help',
  ];
  for (const arg of argv) {
    if (!known.some((k) => arg === k || arg.startsWith(`${k}=`))) throw new Error(`unknown option ${arg}`);
  }
  if (argv.includes('--help')) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const profileArg = argv.find((a) => a.startsWith('--cpu-prof'));
  const serviceArg = argv.find((a) => a.startsWith('--service='));
  return {
    plan: argv.includes('--quick') ? PLANS.quick : PLANS.full,
    build:
      serviceArg !== undefined || argv.includes('--no-build')
        ? 'never'
        : argv.includes('--build')
          ? 'always'
          : 'auto',
    main: serviceArg === undefined ? MAIN : resolve(serviceArg.slice('--service='.length)),
    cpuProfileDir:
      profileArg === undefined
        ? null
        : profileArg.includes('=')
          ? resolve(profileArg.split('=')[1] ?? '')
          : '/tmp/auth-bench-profiles',
    readsOnly: argv.includes('--reads-only'),
    keep: argv.includes('--keep'),
  };
}

/** Progress goes to stderr, so stdout holds only the results. */
function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/** The newest modification time under a path (files and directories), in ms; 0 when it does not exist. */
function newestMtimeMs(path: string): number {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((newest, name) => Math.max(newest, newestMtimeMs(join(path, name))), 0);
}

/**
 * Builds dist/ unless a bench build is newer than every input: `npm run build` takes several seconds even when
 * nothing changed (tsc checks types again), which matters for the one-minute smoke run.
 */
async function ensureBuilt(mode: Options['build']): Promise<void> {
  if (mode === 'never') return;
  const inputs = [
    'src',
    'web',
    'scripts',
    'mikro-orm.config.ts',
    'tsconfig.json',
    'tsconfig.build.json',
    'package.json',
  ];
  const newestInput = Math.max(...inputs.map((p) => newestMtimeMs(join(ROOT, p))));
  const stamp = existsSync(BUILD_STAMP) && existsSync(MAIN) ? statSync(BUILD_STAMP).mtimeMs : 0;
  if (mode === 'auto' && stamp > newestInput) {
    log('dist/ is newer than its sources: not rebuilding (--build forces it)');
    return;
  }
  log('building (npm run build)');
  await runCommand('npm', ['run', '--silent', 'build']);
  writeFileSync(BUILD_STAMP, new Date().toISOString());
}

function machine(): Record<string, string | number> {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  return {
    nproc: availableParallelism(),
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown CPU',
    node: process.version,
    os: `${process.platform} ${release()}`,
    memoryGiB: Math.round(totalmem() / 1024 / MIB),
  };
}

/** Runs `parallel` bcrypt compares at once for `seconds` and counts them: the most logins per second can be. */
async function bcryptComparesPerSecond(hash: string, parallel: number, seconds: number): Promise<number> {
  const start = performance.now();
  const endMs = start + seconds * MS_PER_SECOND;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < endMs) {
      if (!(await bcrypt.compare(BENCH_PASSWORD, hash))) throw new Error('bcrypt baseline: no match');
      done += 1;
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return done / ((performance.now() - start) / MS_PER_SECOND);
}

/** The configuration variables a caller may set for the server under bench; everything else is fixed here. */
const PASSED_THROUGH = [
  'BCRYPT_MAX_CONCURRENCY',
  'BCRYPT_MAX_QUEUE',
  'UV_THREADPOOL_SIZE',
  'LOG_LEVEL',
  'SESSION_TOUCH_INTERVAL_SECONDS',
];

/**
 * The production server's environment. RATE_LIMIT=off: every request comes from one client address, so the
 * per-address limits would turn register and login into 429s within seconds (ALLOW_RATE_LIMIT_OFF acknowledges it); the bcrypt admission gate
 * (BCRYPT_MAX_CONCURRENCY/BCRYPT_MAX_QUEUE) stays on, and is what the flood measures. SMTP_URL points at the
 * discard port: production needs a mail server for reset links, and no reset is benchmarked.
 */
function serviceEnv(databaseUrl: string, rounds: number, logLevel: string | null): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    NODE_ENV: 'production',
    DATABASE_URL: databaseUrl,
    BCRYPT_ROUNDS: String(rounds),
    RATE_LIMIT: 'off',
    // Production refuses RATE_LIMIT=off, a cost below 10 (the seeding server's) and a missing https reset link
    // unless told: the bench says so, since it measures the service, not its guard rails.
    ALLOW_RATE_LIMIT_OFF: 'true',
    ...(rounds < 10 ? { ALLOW_WEAK_BCRYPT_ROUNDS: 'true' } : {}),
    RESET_URL_TEMPLATE: 'https://app.example.test/reset?email={email}&token={token}',
    SMTP_URL: 'smtp://127.0.0.1:9',
  };
  for (const name of PASSED_THROUGH) {
    const value = process.env[name];
    if (value !== undefined && value !== '') env[name] = value;
  }
  if (logLevel !== null) env.LOG_LEVEL = logLevel;
  return env;
}

function cpuProfileArgs(options: Options, name: string): string[] {
  if (options.cpuProfileDir === null) return [];
  mkdirSync(options.cpuProfileDir, { recursive: true });
  return [
    '--cpu-prof',
    `--cpu-prof-dir=${options.cpuProfileDir}`,
    `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`,
  ];
}

/** A read target: a server and the request it answers. */
interface ReadTarget {
  readonly name: string;
  readonly port: number;
  readonly make: (token: string) => TaggedRequest;
  readonly verifyBody?: (body: string) => boolean;
}

const hasEmail = (body: string): boolean => body.includes('"email"');

/** Each connection cycles through every session, starting at its own offset. */
function readLoad(target: ReadTarget, tokens: readonly string[], durationSeconds: number) {
  const perConnection = Math.floor(tokens.length / READ_CONNECTIONS);
  return {
    port: target.port,
    connections: READ_CONNECTIONS,
    durationSeconds,
    requestsFor: (c: number): TaggedRequest[] => rotated(tokens, c * perConnection).map(target.make),
    ...(target.verifyBody === undefined ? {} : { verifyBody: target.verifyBody }),
  };
}

/**
 * The closed-loop maximum of each target, measured in rounds that take turns (service, baseline, service, ...),
 * so that a change in the machine's background load during the run weighs on the service and on its baselines
 * alike: the ratios between them are what the targets are about.
 */
async function interleavedMaxima(
  plan: Plan,
  targets: readonly ReadTarget[],
  tokens: readonly string[],
): Promise<Map<string, PassResult>> {
  for (const target of targets) await closedLoop(readLoad(target, tokens, plan.warmUpSeconds));
  const sums = new Map(targets.map((t) => [t.name, new Accumulated()]));
  for (let round = 0; round < plan.readRounds; round += 1) {
    for (const target of targets) {
      await closedLoop(readLoad(target, tokens, plan.readSliceSeconds), sums.get(target.name));
    }
  }
  return new Map([...sums].map(([name, sum]) => [name, sum.result()]));
}

/** An open-loop pass of one target at a fixed rate. */
function atRate(
  target: ReadTarget,
  tokens: readonly string[],
  ratePerSecond: number,
  seconds: number,
): Promise<PassResult> {
  return paced({
    port: target.port,
    durationSeconds: seconds,
    streams: [{ ratePerSecond: Math.max(1, ratePerSecond), requests: tokens.map(target.make) }],
    initialConnections: READ_CONNECTIONS,
    maxConnections: READ_CONNECTIONS * 8,
  });
}

/** A database to seed in place of the benchmarked one, and how to move it into place once seeding is over. */
interface SeedElsewhere {
  readonly location: string;
  moveIntoPlace(): void;
}

/** Where an fsync costs nothing: tmpfs, when the machine has one. */
const TMPFS = '/dev/shm';

/**
 * Seeding commits a few hundred small transactions, each fsynced (synchronous=FULL), which takes seconds on a busy
 * disk. On tmpfs it takes none, so the SQLite file is seeded there and then copied next to the benchmark's other
 * files, where the server under bench uses it on disk as production would.
 */
function sqliteSeedOnTmpfs(databasePath: string): SeedElsewhere | undefined {
  if (!existsSync(TMPFS)) return undefined;
  const seedDir = mkdtempSync(join(TMPFS, 'auth-bench-seed-'));
  onCleanup(() => Promise.resolve(rmSync(seedDir, { recursive: true, force: true })));
  const seedPath = join(seedDir, 'auth.sqlite');
  return {
    location: seedPath,
    moveIntoPlace: () => {
      // The seeding connections closed cleanly, which folds the WAL into the main file; copy a leftover one anyway.
      for (const suffix of ['', '-wal']) {
        if (existsSync(`${seedPath}${suffix}`)) {
          copyFileSync(`${seedPath}${suffix}`, `${databasePath}${suffix}`);
        }
      }
      rmSync(seedDir, { recursive: true, force: true });
    },
  };
}

/** A database the service runs on in this benchmark. */
interface Database {
  readonly name: 'sqlite' | 'postgresql';
  /** DATABASE_URL of the service. */
  readonly url: string;
  readonly seedElsewhere?: SeedElsewhere;
}

/**
 * Makes `total` sessions: a tenth of them by registering and logging in through the API of a server at bcrypt cost
 * 4 (sessions do not depend on the cost, so they stay valid at the configured one), the rest by copying those
 * sessions' rows with new tokens.
 */
async function seed(main: string, database: Database, total: number, work: string): Promise<string[]> {
  const started = Date.now();
  const runId = randomBytes(4).toString('hex');
  const location = database.seedElsewhere?.location ?? database.url;
  const seeder = await startServer({
    name: `seed server (${database.name})`,
    nodeArgs: [main],
    env: serviceEnv(location, SEED_BCRYPT_ROUNDS, 'warn'),
    logFile: join(work, `seed-${database.name}.log`),
    startTimeoutMs: 30_000,
  });
  const accounts = Math.ceil(total / SESSIONS_PER_SEEDED_ACCOUNT);
  const seeded = await seedAccounts(
    `http://127.0.0.1:${seeder.port}`,
    accounts,
    (n) => `seed-${runId}-${n}@example.com`,
    availableParallelism() * 4,
  );
  await seeder.stop();
  const tokens = await multiplySessions(database.name, location, seeded, total);
  database.seedElsewhere?.moveIntoPlace();
  // Kept with the database (--keep), for profiling one scenario by hand against the same data.
  writeFileSync(join(work, `tokens-${database.name}.txt`), `${tokens.join('\n')}\n`);
  log(
    `${database.name}: ${tokens.length} sessions of ${accounts} accounts in ${((Date.now() - started) / MS_PER_SECOND).toFixed(1)} s`,
  );
  return tokens;
}

/** What the hashing scenarios measured. */
interface HashingResults {
  readonly rows: Row[];
  readonly bcryptPerSecond: number;
  readonly flood: PassResult;
}

/** Register, login, mixed and the login flood: the scenarios that hash passwords. */
async function hashingScenarios(
  plan: Plan,
  service: RunningServer,
  database: string,
  tokens: readonly string[],
  rounds: number,
  floodProfileRate: number,
): Promise<HashingResults> {
  const port = service.port;
  const runId = randomBytes(4).toString('hex');
  const cpus = availableParallelism();
  const hashingSlots = Number(process.env.BCRYPT_MAX_CONCURRENCY || cpus);
  // Twice the hashing slots for registrations, four times for logins (which spend more of their time outside
  // bcrypt, in the database): every slot always has a request waiting for it. Never more than the slots plus the
  // admission queue (4 per slot by default), so none of these requests is refused.
  const admitted = hashingSlots + Number(process.env.BCRYPT_MAX_QUEUE || hashingSlots * 4);
  const hashConnections = Math.min(hashingSlots * 2, admitted);
  const loginConnections = Math.min(hashingSlots * 4, admitted);
  const baselineHash = await bcrypt.hash(BENCH_PASSWORD, rounds);

  log(`baseline: raw bcrypt.compare at cost ${rounds}, ${cpus} at once (before the login pass)`);
  const bcryptBefore = await bcryptComparesPerSecond(baselineHash, cpus, plan.bcryptSeconds);

  log(`${database}: register (POST /users), ${hashConnections} connections`);
  const registered: string[] = [];
  // One request shared by every connection, so that all of them draw from one sequence of fresh emails.
  const registration = register((n) => `reg-${runId}-${n}@example.com`, registered);
  // A fixed number, as for logins below: a timed pass would abandon requests still queued in the server's bcrypt
  // gate when it ends, and those would take the next pass's admission slots.
  const hashCount = (connections: number): number =>
    Math.max(1, Math.round((bcryptBefore * plan.hashSeconds) / connections)) * connections;
  const registerPass = await closedLoop({
    port,
    connections: hashConnections,
    durationSeconds: plan.hashSeconds,
    amount: hashCount(hashConnections),
    requestsFor: () => [registration],
  });
  if (registered.length === 0) throw new Error(`${database}: no registration succeeded; see the service log`);

  // A fixed number of logins rather than a fixed time: at a few per second, logins cut off by the end of a timed
  // pass would weigh on the figure; the baseline's compares and these logins are then counted alike.
  const loginCount = hashCount(loginConnections);
  log(`${database}: ${loginCount} logins (POST /sessions), ${registered.length} accounts at cost ${rounds}`);
  const logins = registered.map(login);
  const loginPass = await closedLoop({
    port,
    connections: loginConnections,
    durationSeconds: plan.hashSeconds,
    amount: loginCount,
    requestsFor: (c) => rotated(logins, c),
  });
  const loginPerSecond = okPerSecond(loginPass, 'login');

  log(`baseline: raw bcrypt.compare again (after the login pass)`);
  const bcryptAfter = await bcryptComparesPerSecond(baselineHash, cpus, plan.bcryptSeconds);
  const bcryptPerSecond = (bcryptBefore + bcryptAfter) / 2;
  log(
    `baseline: ${rate(bcryptBefore)} and ${rate(bcryptAfter)} compares/s; logins ${rate(loginPerSecond)}/s`,
  );

  const mixedConnections = hashingSlots * 4;
  const peak = (): string => `service RSS peak so far ${(service.peakRssMiB() ?? 0).toFixed(0)} MiB`;
  log(`${database}: ${peak()} (after register and login)`);
  log(`${database}: mixed 90% profile / 9% login / 1% register, ${mixedConnections} connections`);
  const mixedRegistration = register((n) => `mix-${runId}-${n}@example.com`, []);
  const mixedPass = await closedLoop({
    port,
    connections: mixedConnections,
    durationSeconds: plan.hashSeconds,
    // Each connection starts its cycle at another point, so registrations and logins are spread over the pass.
    requestsFor: (c) =>
      rotated(
        mixedCycle(
          (n) => restProfile(tokens[(c * MIXED_SHARES.profile + n) % tokens.length]),
          (n) => login(registered[(c * MIXED_SHARES.login + n) % registered.length]),
          mixedRegistration,
        ),
        Math.floor((c * MIXED_CYCLE) / mixedConnections),
      ),
  });
  const mixedTotal = Object.values(mixedPass.kinds).reduce((sum, k) => sum + k.count, 0);
  // The timed pass left logins queued in the server's bcrypt gate; let them finish before the flood measures it.
  await new Promise((resolve) => setTimeout(resolve, (mixedConnections / bcryptPerSecond) * MS_PER_SECOND));
  const mixedProblems = joined(failures(mixedPass, 'login'), failures(mixedPass, 'profile'));

  const floodRate = Math.max(1, loginPerSecond * FLOOD_FACTOR);
  const profileRate = Math.max(1, floodProfileRate);
  log(
    `${database}: login flood at ${rate(floodRate)}/s (${FLOOD_FACTOR}x capacity), GET /profile at ${rate(profileRate)}/s alongside`,
  );
  const flood = await paced({
    port,
    durationSeconds: plan.hashSeconds,
    streams: [
      { ratePerSecond: floodRate, requests: logins },
      { ratePerSecond: profileRate, requests: tokens.map(restProfile) },
    ],
    initialConnections: READ_CONNECTIONS,
    maxConnections: 512,
  });
  log(`${database}: ${peak()} (after the mixed load and the flood)`);
  const floodLogins = kindOf(flood, 'login');
  const refusedShare = (floodLogins.statuses['503'] ?? 0) / Math.max(1, floodLogins.count);
  const refusedLatency = floodLogins.byStatus['503'];

  const rows: Row[] = [
    {
      id: `register-${database}`,
      label: 'register (POST /users)',
      database,
      perSecond: okPerSecond(registerPass, 'register'),
      unit: 'req',
      ...okLatency(registerPass, 'register'),
      baselineId: 'bcrypt',
      ratio: null,
      note: failures(registerPass, 'register'),
      details: details(registerPass),
    },
    {
      id: `login-${database}`,
      label: 'login (POST /sessions)',
      database,
      perSecond: loginPerSecond,
      unit: 'req',
      ...okLatency(loginPass, 'login'),
      baselineId: 'bcrypt',
      ratio: null,
      note: failures(loginPass, 'login'),
      details: details(loginPass),
    },
    {
      id: `mixed-${database}`,
      label: 'mixed 90/9/1 (all requests)',
      database,
      perSecond: mixedTotal / mixedPass.durationSeconds,
      unit: 'req',
      ...okLatency(mixedPass, 'profile'),
      baselineId: null,
      ratio: null,
      note: `latency of profile; ${rate(okPerSecond(mixedPass, 'login'))} logins/s, ${rate(
        okPerSecond(mixedPass, 'register'),
      )} registers/s${mixedProblems === '' ? '' : `; ${mixedProblems}`}`,
      details: details(mixedPass),
    },
    {
      id: `flood-profile-${database}`,
      label: `GET /profile during ${FLOOD_FACTOR}x login flood`,
      database,
      perSecond: okPerSecond(flood, 'profile'),
      unit: 'req',
      ...okLatency(flood, 'profile'),
      baselineId: null,
      ratio: null,
      note: joined(openLoop(flood), failures(flood, 'profile')),
      details: details(flood),
    },
    {
      id: `flood-login-${database}`,
      label: `logins during ${FLOOD_FACTOR}x flood (successful)`,
      database,
      perSecond: okPerSecond(flood, 'login'),
      unit: 'req',
      ...okLatency(flood, 'login'),
      baselineId: null,
      ratio: null,
      note: `offered ${rate(floodLogins.count / flood.durationSeconds)}/s; ${percent(refusedShare)} answered 503${
        refusedLatency === undefined
          ? ''
          : ` (p99 ${refusedLatency.p99Ms.toFixed(1)} ms, max ${refusedLatency.maxMs.toFixed(1)} ms)`
      }`,
      details: {
        ...details(flood),
        offeredLoginsPerSecond: floodRate,
        offeredProfilesPerSecond: profileRate,
      },
    },
  ];
  return { rows, bcryptPerSecond, flood };
}

/** Rows of the service's read scenarios. */
function readRows(
  database: string,
  rest: PassResult,
  restHalf: PassResult,
  graphql: PassResult,
  graphqlHalf: PassResult,
): Row[] {
  return [
    {
      id: `rest-profile-${database}`,
      label: 'REST GET /profile, max',
      database,
      perSecond: okPerSecond(rest, 'profile'),
      unit: 'req',
      ...okLatency(rest, 'profile'),
      baselineId: 'bare-fastify',
      ratio: null,
      note: failures(rest, 'profile'),
      details: details(rest),
    },
    {
      id: `rest-profile-half-${database}`,
      label: 'REST GET /profile, at 50% of max',
      database,
      perSecond: okPerSecond(restHalf, 'profile'),
      unit: 'req',
      ...okLatency(restHalf, 'profile'),
      baselineId: null,
      ratio: null,
      note: joined(openLoop(restHalf), failures(restHalf, 'profile')),
      details: details(restHalf),
    },
    {
      id: `graphql-profile-${database}`,
      label: 'GraphQL { profile { email } }, max',
      database,
      perSecond: okPerSecond(graphql, 'profile'),
      unit: 'req',
      ...okLatency(graphql, 'profile'),
      baselineId: 'apollo-constant',
      ratio: null,
      note: failures(graphql, 'profile'),
      details: details(graphql),
    },
    {
      id: `graphql-profile-half-${database}`,
      label: 'GraphQL profile, at 50% of max',
      database,
      perSecond: okPerSecond(graphqlHalf, 'profile'),
      unit: 'req',
      ...okLatency(graphqlHalf, 'profile'),
      baselineId: null,
      ratio: null,
      note: joined(openLoop(graphqlHalf), failures(graphqlHalf, 'profile')),
      details: details(graphqlHalf),
    },
  ];
}

/** Everything one database's run measured. */
interface ServiceRun {
  readonly database: string;
  readonly rows: Row[];
  readonly baselineRows: Row[];
  readonly memory: MemoryPeak;
  readonly restHalf: PassResult;
  readonly flood: PassResult | null;
  /** The rate of the profile reads alongside the flood, per second (null without hashing scenarios). */
  readonly floodProfileRate: number | null;
  readonly sessions: number;
}

function startService(
  options: Options,
  database: Database,
  work: string,
  rounds: number,
): Promise<RunningServer> {
  return startServer({
    name: `service (${database.name})`,
    nodeArgs: [...cpuProfileArgs(options, `service-${database.name}`), options.main],
    env: serviceEnv(database.url, rounds, null),
    logFile: join(work, `service-${database.name}.log`),
    startTimeoutMs: 30_000,
  });
}

function startBaseline(options: Options, name: string, env: Record<string, string>, work: string) {
  return startServer({
    name,
    nodeArgs: [...TS_NODE, ...cpuProfileArgs(options, name), join(ROOT, 'bench', 'baselines', `${name}.ts`)],
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', ...env },
    logFile: join(work, `${name}.log`),
    startTimeoutMs: 30_000,
  });
}

/**
 * One database's run: seed, start the production server (and, for SQLite, the two read baselines beside it), the
 * read scenarios, then the hashing ones.
 */
async function runDatabase(
  options: Options,
  database: Database,
  work: string,
  rounds: number,
  withBaselines: boolean,
  /** The flood's profile rate when this run measures no bare baseline of its own (PostgreSQL: the SQLite run's). */
  givenFloodProfileRate: number | null,
): Promise<ServiceRun> {
  const { plan } = options;
  log(`${database.name}: seeding ${plan.sessions} sessions`);
  const tokens = await seed(options.main, database, plan.sessions, work);

  log(
    `${database.name}: starting the production server (bcrypt cost ${rounds}, LOG_LEVEL=info, RATE_LIMIT=off)`,
  );
  const service = await startService(options, database, work, rounds);
  const baselines = withBaselines
    ? await Promise.all([
        startBaseline(options, 'bare-fastify', { BENCH_SQLITE_PATH: database.url }, work),
        startBaseline(options, 'apollo-constant', {}, work),
      ])
    : [];
  try {
    const rest: ReadTarget = { name: 'service-rest', port: service.port, make: restProfile };
    const graphql: ReadTarget = {
      name: 'service-graphql',
      port: service.port,
      make: graphqlProfile,
      verifyBody: hasEmail,
    };
    const targets: ReadTarget[] = [rest, graphql];
    const [bare, apollo] = baselines;
    if (bare !== undefined && apollo !== undefined) {
      targets.splice(1, 0, { name: 'bare-fastify', port: bare.port, make: restProfile });
      targets.push({
        name: 'apollo-constant',
        port: apollo.port,
        make: graphqlProfile,
        verifyBody: hasEmail,
      });
    }
    log(
      `${database.name}: profile reads over ${tokens.length} sessions, ${plan.readRounds} rounds of ${targets.map((t) => t.name).join(', ')}`,
    );
    const maxima = await interleavedMaxima(plan, targets, tokens);
    const maxOf = (name: string): PassResult => maxima.get(name) as PassResult;
    const restMax = okPerSecond(maxOf('service-rest'), 'profile');
    const graphqlMax = okPerSecond(maxOf('service-graphql'), 'profile');
    log(`${database.name}: open-loop passes at ${percent(HALF)} of each maximum`);
    const restHalf = await atRate(rest, tokens, restMax * HALF, plan.halfSeconds);
    const graphqlHalf = await atRate(graphql, tokens, graphqlMax * HALF, plan.halfSeconds);
    const rows = readRows(
      database.name,
      maxOf('service-rest'),
      restHalf,
      maxOf('service-graphql'),
      graphqlHalf,
    );

    const baselineRows: Row[] = [];
    if (bare !== undefined && apollo !== undefined) {
      const bareTarget = targets.find((t) => t.name === 'bare-fastify') as ReadTarget;
      const bareMax = maxOf('bare-fastify');
      const bareHalf = await atRate(
        bareTarget,
        tokens,
        okPerSecond(bareMax, 'profile') * HALF,
        plan.halfSeconds,
      );
      baselineRows.push(
        {
          id: 'bare-fastify',
          label: 'bare Fastify + prepared sqlite3, max',
          database: 'baseline',
          perSecond: okPerSecond(bareMax, 'profile'),
          unit: 'req',
          ...okLatency(bareMax, 'profile'),
          baselineId: null,
          ratio: null,
          note: joined('ceiling for REST /profile', failures(bareMax, 'profile')),
          details: details(bareMax),
        },
        {
          id: 'bare-fastify-half',
          label: 'bare Fastify, at 50% of max',
          database: 'baseline',
          perSecond: okPerSecond(bareHalf, 'profile'),
          unit: 'req',
          ...okLatency(bareHalf, 'profile'),
          baselineId: null,
          ratio: null,
          note: joined(openLoop(bareHalf), failures(bareHalf, 'profile')),
          details: details(bareHalf),
        },
        {
          id: 'apollo-constant',
          label: 'Apollo constant resolver, max',
          database: 'baseline',
          perSecond: okPerSecond(maxOf('apollo-constant'), 'profile'),
          unit: 'req',
          ...okLatency(maxOf('apollo-constant'), 'profile'),
          baselineId: null,
          ratio: null,
          note: joined('ceiling for GraphQL profile', failures(maxOf('apollo-constant'), 'profile')),
          details: details(maxOf('apollo-constant')),
        },
      );
    }
    await Promise.all(baselines.map((b) => b.stop()));
    log(
      `${database.name}: service RSS peak so far ${(service.peakRssMiB() ?? 0).toFixed(0)} MiB (after the reads)`,
    );

    let flood: PassResult | null = null;
    let floodRate: number | null = null;
    if (!options.readsOnly) {
      const bareMax = baselineRows.find((row) => row.id === 'bare-fastify')?.perSecond;
      const floodProfileRate =
        givenFloodProfileRate ?? (bareMax === undefined ? restMax : bareMax) * FLOOD_PROFILE_SHARE;
      const hashing = await hashingScenarios(plan, service, database.name, tokens, rounds, floodProfileRate);
      floodRate = floodProfileRate;
      rows.push(...hashing.rows);
      flood = hashing.flood;
      if (withBaselines) {
        baselineRows.unshift({
          id: 'bcrypt',
          label: `raw bcrypt.compare, cost ${rounds}, x${availableParallelism()}`,
          database: 'baseline',
          perSecond: hashing.bcryptPerSecond,
          unit: 'compares',
          p50Ms: null,
          p99Ms: null,
          baselineId: null,
          ratio: null,
          note: 'ceiling for login and register; mean of before and after the login pass',
          details: {},
        });
      }
    }
    const memory = await service.stop();
    return {
      database: database.name,
      rows,
      baselineRows,
      memory,
      restHalf,
      flood,
      floodProfileRate: floodRate,
      sessions: tokens.length,
    };
  } finally {
    await Promise.all([service, ...baselines].map((s) => s.stop()));
  }
}

/** A fresh PostgreSQL database on BENCH_DATABASE_URL's server, dropped when the run ends. */
async function freshPostgresDatabase(url: string): Promise<string> {
  const name = `auth_bench_${randomBytes(4).toString('hex')}`;
  const admin = async (sql: string): Promise<void> => {
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`create database "${name}"`);
  onCleanup(() => admin(`drop database if exists "${name}" with (force)`));
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const { plan } = options;
  installProcessGuards(plan.deadlineMs);
  const startedMs = Date.now();
  const rounds = Number(process.env.BCRYPT_ROUNDS || DEFAULT_BCRYPT_ROUNDS);
  const cpus = availableParallelism();

  await ensureBuilt(options.build);
  const work = mkdtempSync(join(tmpdir(), 'auth-bench-'));
  if (!options.keep) onCleanup(() => Promise.resolve(rmSync(work, { recursive: true, force: true })));
  log(`working directory ${work}`);

  const sqlitePath = join(work, 'auth.sqlite');
  const sqliteDatabase: Database = { name: 'sqlite', url: sqlitePath };
  const seedElsewhere = sqliteSeedOnTmpfs(sqlitePath);
  const sqlite = await runDatabase(
    options,
    seedElsewhere === undefined ? sqliteDatabase : { ...sqliteDatabase, seedElsewhere },
    work,
    rounds,
    true,
    null,
  );

  let postgres: ServiceRun | null = null;
  const pgUrl = process.env.BENCH_DATABASE_URL;
  if (pgUrl !== undefined && pgUrl !== '') {
    const url = await freshPostgresDatabase(pgUrl);
    postgres = await runDatabase(
      options,
      { name: 'postgresql', url },
      work,
      rounds,
      false,
      sqlite.floodProfileRate,
    );
  }

  const serviceRows = [...sqlite.rows, ...(postgres?.rows ?? [])];
  const baselineRows = sqlite.baselineRows;
  const allRows = [...serviceRows, ...baselineRows];
  const rows = [...serviceRows.map((row) => withRatio(allRows, row)), ...baselineRows];

  const report: Report = {
    date: new Date().toISOString(),
    mode: plan.mode,
    machine: machine(),
    settings: {
      bcryptRounds: rounds,
      hashingSlots: Number(process.env.BCRYPT_MAX_CONCURRENCY || cpus),
      sessions: sqlite.sessions,
      readConnections: READ_CONNECTIONS,
      readRounds: plan.readRounds,
      readSliceSeconds: plan.readSliceSeconds,
      halfSeconds: plan.halfSeconds,
      hashSeconds: plan.hashSeconds,
      service: options.main === MAIN ? 'this checkout (dist/src/main.js)' : options.main,
      rateLimit: 'off',
      logLevel: process.env.LOG_LEVEL || 'info',
      postgres: postgres !== null,
    },
    rows,
    targets: evaluateTargets(rows, sqlite),
    memory: {
      sqliteSampledPeakRssMiB: sqlite.memory.sampledPeakRssMiB,
      sqliteVmHwmMiB: sqlite.memory.vmHwmMiB,
      postgresSampledPeakRssMiB: postgres?.memory.sampledPeakRssMiB ?? null,
      postgresVmHwmMiB: postgres?.memory.vmHwmMiB ?? null,
    },
    notes: [
      'RATE_LIMIT=off for the server under bench: all load comes from one address. The bcrypt admission gate stays on.',
      'Service: NODE_ENV=production, LOG_LEVEL=info (one JSON line per request, to a file). Baselines log nothing.',
      `Profile reads cycle over ${sqlite.sessions} distinct sessions. "max": closed loop (autocannon, ${READ_CONNECTIONS} connections), in ${plan.readRounds} rounds alternating service and baselines; "50%": open loop at half that max.`,
      'Logins: a fixed count, with enough connections to keep every hashing slot busy; the bcrypt baseline is the mean of one pass before and one after.',
      `The flood offers ${FLOOD_FACTOR}x the measured login rate, open loop, with GET /profile alongside at ${percent(FLOOD_PROFILE_SHARE)} of the bare Fastify maximum (${rate(sqlite.floodProfileRate ?? 0)}/s).`,
      ...(postgres === null ? [] : ['PostgreSQL ratios are to the baselines measured in the SQLite phase.']),
    ],
  };

  mkdirSync(RESULTS_DIR, { recursive: true });
  await writeJson(join(RESULTS_DIR, 'latest.json'), report);
  writeFileSync(join(RESULTS_DIR, 'latest.svg'), renderSvg(report));

  const memoryLine = `server peak RSS (SQLite run): ${(sqlite.memory.sampledPeakRssMiB ?? 0).toFixed(0)} MiB sampled, VmHWM ${(sqlite.memory.vmHwmMiB ?? 0).toFixed(0)} MiB`;
  process.stdout.write(
    [
      '',
      `user-auth-service benchmark (${plan.mode}), ${report.date}`,
      `${report.machine.cpu}, ${cpus} CPUs, node ${process.version}; bcrypt cost ${rounds}; RATE_LIMIT=off for the server under bench`,
      '',
      renderTable(report),
      '',
      memoryLine,
      `results: bench/out/latest.json, bench/out/latest.svg (${((Date.now() - startedMs) / MS_PER_SECOND).toFixed(0)} s)`,
      verdict(plan.mode, report.targets),
      '',
    ].join('\n'),
  );
  await runCleanups();
  // The full run is how the targets are checked: missing one fails it. The quick run only proves the bench runs.
  if (plan.mode === 'full' && report.targets.some((target) => !target.met)) process.exitCode = 1;
}

/** The closing line: what the run's figures are worth, and which targets were missed. */
function verdict(
  mode: 'quick' | 'full',
  targets: readonly { readonly description: string; readonly met: boolean }[],
): string {
  const missed = targets.filter((target) => !target.met).length;
  if (mode === 'quick') {
    return (
      `quick run: the figures are informational (passes of seconds, ${missed} of ${targets.length} targets not met ` +
      'is no verdict); `npm run bench` without --quick checks the targets'
    );
  }
  return missed === 0
    ? `all ${targets.length} targets met`
    : `${missed} of ${targets.length} targets NOT met: the run fails`;
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  async (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    await runCleanups();
    process.exit(1);
  },
);
