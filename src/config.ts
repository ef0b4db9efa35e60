// The only reader of process.env: parses and validates it once into a typed, frozen Config.
import { z } from 'zod';

const SECONDS_PER_HOUR = 60 * 60;
const SECONDS_PER_DAY = 24 * SECONDS_PER_HOUR;

/** Where the database lives: only SQLite for now (a file path, `sqlite:<path>` or `:memory:`). */
export interface DatabaseConfig {
  readonly dialect: 'sqlite';
  /** File path of the SQLite database, or `:memory:`. */
  readonly sqlitePath: string;
}

/** The validated, typed configuration of one process. Every field has a documented default. */
export interface Config {
  readonly nodeEnv: 'development' | 'production' | 'test';
  readonly port: number;
  readonly host: string;
  readonly database: DatabaseConfig;
  readonly bcryptRounds: number;
  /** A session ends this long after its last use (sliding). */
  readonly sessionIdleTtlSeconds: number;
  /** A session never lives longer than this after login, however active. */
  readonly sessionAbsoluteTtlSeconds: number;
  /** Sliding expiry is written back at most this often per session, so reads stay reads. */
  readonly sessionTouchIntervalSeconds: number;
  readonly resetTokenTtlSeconds: number;
  readonly cookieSecure: boolean;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly bodyLimitBytes: number;
}

/** Thrown when the environment does not describe a valid configuration; the message names each bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const integer = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const boolean = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no']))
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** Turns `DATABASE_URL` into a database choice, or explains why it cannot. */
function parseDatabaseUrl(url: string): DatabaseConfig | string {
  if (/^postgres(ql)?:/i.test(url)) {
    return 'PostgreSQL is not supported yet: use a SQLite file path, sqlite:<path> or :memory:';
  }
  const path = url.replace(/^sqlite:(\/\/)?/i, '');
  if (path === '') return 'must name a SQLite file';
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) {
    return `unsupported scheme "${url.split(':')[0]}": use a SQLite file path, sqlite:<path> or :memory:`;
  }
  return { dialect: 'sqlite', sqlitePath: path };
}

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: integer(0, 65535).default(5000),
  HOST: z.string().trim().min(1).default('127.0.0.1'),
  DATABASE_URL: z
    .string()
    .trim()
    .min(1)
    .default('./data/auth.sqlite')
    .transform((url, ctx) => {
      const database = parseDatabaseUrl(url);
      if (typeof database !== 'string') return database;
      ctx.addIssue({ code: 'custom', message: database });
      return z.NEVER;
    }),
  // bcrypt's own bounds are 4..31; each step doubles the cost, and 12 is about 250 ms on one core here.
  BCRYPT_ROUNDS: integer(4, 31).default(12),
  SESSION_IDLE_TTL_SECONDS: integer(60, 365 * SECONDS_PER_DAY).default(7 * SECONDS_PER_DAY),
  SESSION_ABSOLUTE_TTL_SECONDS: integer(60, 365 * SECONDS_PER_DAY).default(30 * SECONDS_PER_DAY),
  SESSION_TOUCH_INTERVAL_SECONDS: integer(0, SECONDS_PER_DAY).default(SECONDS_PER_HOUR),
  RESET_TOKEN_TTL_SECONDS: integer(60, SECONDS_PER_DAY).default(SECONDS_PER_HOUR),
  COOKIE_SECURE: boolean.default(false),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // An auth request is a few hundred bytes; a small cap keeps floods of large bodies cheap to refuse.
  BODY_LIMIT_BYTES: integer(1024, 10 * 1024 * 1024).default(64 * 1024),
});

/**
 * Parses an environment (by default `process.env`) into a Config.
 * Empty strings count as unset, so `PORT=` in a .env file means "use the default".
 * @throws ConfigError naming every invalid variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(
    Object.entries(env).filter(
      ([key, value]) => key in envSchema.shape && value !== undefined && value !== '',
    ),
  );
  const parsed = envSchema.safeParse(present);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  // Checked even when other variables are bad, so one failed start names every problem at once.
  const idle = envSchema.shape.SESSION_IDLE_TTL_SECONDS.safeParse(present.SESSION_IDLE_TTL_SECONDS);
  const absolute = envSchema.shape.SESSION_ABSOLUTE_TTL_SECONDS.safeParse(
    present.SESSION_ABSOLUTE_TTL_SECONDS,
  );
  if (idle.success && absolute.success && idle.data > absolute.data) {
    problems.push('SESSION_IDLE_TTL_SECONDS: must not exceed SESSION_ABSOLUTE_TTL_SECONDS');
  }
  // A session is extended only when touched; touching no more often than it idles out would end active sessions.
  const touch = envSchema.shape.SESSION_TOUCH_INTERVAL_SECONDS.safeParse(
    present.SESSION_TOUCH_INTERVAL_SECONDS,
  );
  if (touch.success && idle.success && touch.data >= idle.data) {
    problems.push('SESSION_TOUCH_INTERVAL_SECONDS: must be less than SESSION_IDLE_TTL_SECONDS');
  }
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const e = parsed.data;

  return Object.freeze({
    nodeEnv: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    database: Object.freeze(e.DATABASE_URL),
    bcryptRounds: e.BCRYPT_ROUNDS,
    sessionIdleTtlSeconds: e.SESSION_IDLE_TTL_SECONDS,
    sessionAbsoluteTtlSeconds: e.SESSION_ABSOLUTE_TTL_SECONDS,
    sessionTouchIntervalSeconds: e.SESSION_TOUCH_INTERVAL_SECONDS,
    resetTokenTtlSeconds: e.RESET_TOKEN_TTL_SECONDS,
    cookieSecure: e.COOKIE_SECURE,
    logLevel: e.LOG_LEVEL,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
  });
}
