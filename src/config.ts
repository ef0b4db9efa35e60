// The only reader of process.env: parses and validates it once into a typed, frozen Config.
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { z } from 'zod';

const SECONDS_PER_HOUR = 60 * 60;
const SECONDS_PER_DAY = 24 * SECONDS_PER_HOUR;

/** The reset link outside production: the local server, which is what development and the tests use. */
const DEVELOPMENT_RESET_URL_TEMPLATE = 'http://localhost:5000/reset-password?email={email}&token={token}';

/** The lowest bcrypt cost production starts with unless told otherwise: OWASP's floor for bcrypt. */
const PRODUCTION_MIN_BCRYPT_ROUNDS = 10;

/** An embedded SQLite database: a file path, `sqlite:<path>` or `:memory:`. */
export interface SqliteDatabaseConfig {
  readonly dialect: 'sqlite';
  /** File path of the SQLite database, or `:memory:`. */
  readonly sqlitePath: string;
}

/** A PostgreSQL server, for several instances sharing one database. */
export interface PostgresDatabaseConfig {
  readonly dialect: 'postgresql';
  /** The connection URL, postgres://user:password@host:port/database. */
  readonly url: string;
}

/** Where the database lives. */
export type DatabaseConfig = SqliteDatabaseConfig | PostgresDatabaseConfig;

/** A fixed-window limit: at most `points` counted events per `durationSeconds`. */
export interface WindowLimit {
  readonly points: number;
  readonly durationSeconds: number;
}

/** The brute-force and spam limits (docs/security.md). `enabled: false` is RATE_LIMIT=off. */
export interface RateLimitConfig {
  readonly enabled: boolean;
  /** Consecutive failed logins of one email before the back-off starts. */
  readonly loginFailuresBeforeBackoff: number;
  readonly loginBackoffInitialSeconds: number;
  readonly loginBackoffMaxSeconds: number;
  readonly loginPerIp: WindowLimit;
  readonly registerPerIp: WindowLimit;
  readonly resetRequestPerIp: WindowLimit;
  /** Reset requests for one account from one client network: what a stranger can spend on someone else's account. */
  readonly resetRequestPerAccountAndIp: WindowLimit;
  /** Reset requests for one account from anywhere: the hard cap on mail one inbox can be sent. */
  readonly resetRequestPerAccount: WindowLimit;
  /** In-process counters kept at most (SQLite mode); past it the least recently used are forgotten. */
  readonly memoryMaxKeys: number;
}

/** GraphQL limits (docs/security.md). */
export interface GraphQLConfig {
  readonly introspection: boolean;
  /** Whether GET /graphql from a browser serves the GraphQL playground (GraphiQL). */
  readonly playground: boolean;
  readonly maxDepth: number;
  readonly maxAliases: number;
  /** How many times one operation may run each of login, register, requestPasswordReset and resetPassword. */
  readonly maxAuthMutations: number;
  readonly maxTokens: number;
}

/** How reset tokens reach their owner: in the API answer (the exercise's development behaviour) or by email. */
export type ResetTokenDelivery = 'response' | 'email';

/** Outgoing mail: reset links and security notices. */
export interface MailConfig {
  /** SMTP server, e.g. smtp://user:pass@mail.example.com:587 (smtps:// for TLS from the start). Empty: none. */
  readonly smtpUrl: string | null;
  readonly from: string;
  /** The reset link sent by email; `{token}` and `{email}` are replaced (URL-encoded). */
  readonly resetUrlTemplate: string;
  /** The outbox's first wait after a temporary failure; each further wait doubles up to `retryMaxSeconds`. */
  readonly retryMinSeconds: number;
  readonly retryMaxSeconds: number;
  /** How long mail given up on stays in the outbox (without its text) for the operator to see. */
  readonly failedRetentionDays: number;
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
  /** COOKIE_SAME_SITE: Lax by default; None only with Secure and CORS_ORIGINS (checked at start). */
  readonly cookieSameSite: 'Lax' | 'Strict' | 'None';
  /** COOKIE_HOST_PREFIX: the cookie is `__Host-session_id` (needs Secure) instead of the exercise's `session_id`. */
  readonly cookieHostPrefix: boolean;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly bodyLimitBytes: number;
  /** A request must arrive whole (headers and body) within this time, or it is answered 408. */
  readonly requestTimeoutSeconds: number;
  /** A request must be answered within this time once it has arrived, or it is answered 503. */
  readonly handlerTimeoutSeconds: number;
  /** Proxies whose X-Forwarded-For is believed (addresses, CIDRs or proxy-addr names); empty: none. */
  readonly trustProxy: readonly string[];
  /** Origins allowed to call with credentials from a browser; empty: CORS off. */
  readonly corsOrigins: readonly string[];
  /** At most this many bcrypt hashes run at once. */
  readonly bcryptMaxConcurrency: number;
  /** At most this many more wait for a slot; beyond that, requests are refused at once with SERVICE_BUSY. */
  readonly bcryptMaxQueue: number;
  readonly rateLimit: RateLimitConfig;
  /** Redis for the shared rate-limit counters (redis://host:6379), or null: PostgreSQL's table, or memory. */
  readonly redisUrl: string | null;
  /** Prefix of every key this deployment writes to Redis. */
  readonly redisKeyPrefix: string;
  readonly graphql: GraphQLConfig;
  readonly resetTokenDelivery: ResetTokenDelivery;
  readonly mail: MailConfig;
  /** Most tasks (reset issuance, mails) waiting or running after their answer; past it resets are SERVICE_BUSY. */
  readonly backgroundMaxPending: number;
  /** Security events older than this are deleted by the clean-up job. */
  readonly securityEventRetentionDays: number;
  /** How often the clean-up job removes expired sessions, reset tokens and old security events. */
  readonly cleanupIntervalSeconds: number;
  /** Rows deleted per statement by the clean-up job, so no single statement holds the database for long. */
  readonly cleanupBatchSize: number;
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

const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: SECONDS_PER_HOUR };

/** `<points>/<duration>` with a duration in s, m or h, such as `30/1m` or `3/1h`. */
const windowLimit = z
  .string()
  .trim()
  .regex(/^\d{1,6}\/\d{1,6}[smh]$/, 'must look like 30/1m (count per duration in s, m or h)')
  .transform((value): WindowLimit => {
    const [points, duration] = value.split('/') as [string, string];
    const unit = UNIT_SECONDS[duration.slice(-1)] ?? 1;
    return { points: Number(points), durationSeconds: Number(duration.slice(0, -1)) * unit };
  })
  .refine(
    (limit) => limit.points >= 1 && limit.durationSeconds >= 1,
    'count and duration must be at least 1',
  );

/** A comma-separated list; blanks between commas are ignored. */
const list = z.string().transform((value) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== ''),
);

/** proxy-addr's names for address ranges, accepted in TRUST_PROXY besides addresses and CIDRs. */
const PROXY_RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

function isProxySpec(item: string): boolean {
  if (PROXY_RANGE_NAMES.has(item)) return true;
  const [address, bits, extra] = item.split('/');
  if (extra !== undefined || address === undefined) return false;
  const version = isIP(address);
  if (version === 0) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (version === 4 ? 32 : 128);
}

/** An origin exactly as a browser sends it: scheme, host and optional port, nothing else. */
function isOrigin(item: string): boolean {
  if (!URL.canParse(item)) return false;
  const url = new URL(item);
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === item;
}

/** Whether a reset link template makes an absolute http(s) URL once its placeholders are filled in. */
function isLinkTemplate(template: string): boolean {
  const link = linkOf(template);
  return link !== null && (link.protocol === 'https:' || link.protocol === 'http:');
}

/** The URL a reset link template makes once filled in, or null when it makes none. */
function linkOf(template: string): URL | null {
  const sample = template.replaceAll('{token}', 'token').replaceAll('{email}', 'email');
  return URL.canParse(sample) ? new URL(sample) : null;
}

/** Host names that only ever mean the machine the mail is read on, never the service. */
const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Whether a reset link template is fit for production mail: https (the protocol as URL reads it, so `HTTPS://`
 * counts) to a host users can reach, not localhost or a loopback address.
 */
function isProductionLinkTemplate(template: string): boolean {
  const link = linkOf(template);
  if (link === null || link.protocol !== 'https:') return false;
  const host = link.hostname;
  return !LOOPBACK_HOSTS.has(host) && !host.endsWith('.localhost') && !host.startsWith('127.');
}

/** Turns `DATABASE_URL` into a database choice, or explains why it cannot. */
function parseDatabaseUrl(url: string): DatabaseConfig | string {
  if (/^postgres(ql)?:/i.test(url)) {
    if (!URL.canParse(url) || new URL(url).hostname === '' || new URL(url).pathname.length < 2) {
      return 'must look like postgres://user:password@host:5432/database';
    }
    return { dialect: 'postgresql', url };
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
  COOKIE_SECURE: boolean.optional(),
  COOKIE_SAME_SITE: z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(['lax', 'strict', 'none']))
    .default('lax'),
  COOKIE_HOST_PREFIX: boolean.default(false),
  ALLOW_INSECURE_COOKIES: boolean.default(false),
  RESET_TOKEN_DELIVERY: z.enum(['response', 'email']).optional(),
  ALLOW_INSECURE_RESET_DELIVERY: boolean.default(false),
  SMTP_URL: z
    .string()
    .trim()
    .refine(
      (url) => /^smtps?:\/\//i.test(url) && URL.canParse(url) && new URL(url).hostname !== '',
      'must be an smtp:// or smtps:// URL with a host',
    )
    .optional(),
  MAIL_FROM: z.string().trim().min(3).default('user-auth-service <no-reply@localhost>'),
  RESET_URL_TEMPLATE: z
    .string()
    .trim()
    .refine((t) => t.includes('{token}'), 'must contain {token}')
    .refine(isLinkTemplate, 'must be an http:// or https:// URL once {token} and {email} are filled in')
    .optional(),
  MAIL_RETRY_MIN_SECONDS: integer(1, SECONDS_PER_HOUR).default(5),
  MAIL_RETRY_MAX_SECONDS: integer(1, SECONDS_PER_DAY).default(5 * 60),
  MAIL_FAILED_RETENTION_DAYS: integer(1, 3650).default(30),
  SECURITY_EVENT_RETENTION_DAYS: integer(1, 3650).default(90),
  CLEANUP_INTERVAL_SECONDS: integer(1, SECONDS_PER_DAY).default(10 * 60),
  CLEANUP_BATCH_SIZE: integer(1, 100_000).default(500),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // An auth request is a few hundred bytes; a small cap keeps floods of large bodies cheap to refuse.
  BODY_LIMIT_BYTES: integer(1024, 10 * 1024 * 1024).default(64 * 1024),
  // A slow-loris client holds a connection by trickling bytes; a whole request taking this long is not a client.
  REQUEST_TIMEOUT_SECONDS: integer(1, 300).default(10),
  // Generous: only a stalled database or an overloaded machine gets near it, and the client then gets a 503.
  HANDLER_TIMEOUT_SECONDS: integer(1, 300).default(30),
  TRUST_PROXY: list
    .refine(
      (items) => items.every(isProxySpec),
      'must be a comma-separated list of IP addresses, CIDR ranges, loopback, linklocal or uniquelocal',
    )
    .default([]),
  CORS_ORIGINS: list
    .refine(
      (items) => items.every(isOrigin),
      'must be a comma-separated list of origins such as https://app.example.com (no path, no trailing slash)',
    )
    .default([]),
  BCRYPT_MAX_CONCURRENCY: integer(1, 256).optional(),
  BCRYPT_MAX_QUEUE: integer(0, 10_000).optional(),
  RATE_LIMIT: z.enum(['on', 'off']).default('on'),
  ALLOW_RATE_LIMIT_OFF: boolean.default(false),
  ALLOW_WEAK_BCRYPT_ROUNDS: boolean.default(false),
  REDIS_URL: z
    .string()
    .trim()
    .refine(
      (url) => /^rediss?:\/\//i.test(url) && URL.canParse(url) && new URL(url).hostname !== '',
      'must be a redis:// or rediss:// URL with a host',
    )
    .optional(),
  REDIS_KEY_PREFIX: z
    .string()
    .trim()
    .regex(/^[\w.:-]{1,64}$/, 'must be 1 to 64 of A-Z a-z 0-9 _ . : -')
    .default('auth'),
  RATE_LIMIT_LOGIN_FAILURES: integer(1, 1000).default(5),
  RATE_LIMIT_LOGIN_BACKOFF_INITIAL_SECONDS: integer(1, SECONDS_PER_HOUR).default(1),
  RATE_LIMIT_LOGIN_BACKOFF_MAX_SECONDS: integer(1, SECONDS_PER_DAY).default(5 * 60),
  RATE_LIMIT_LOGIN_PER_IP: windowLimit.default({ points: 30, durationSeconds: 60 }),
  // Defaults by NODE_ENV (see STRICT_PER_NETWORK_LIMITS and DEVELOPMENT_PER_NETWORK_LIMITS).
  RATE_LIMIT_REGISTER_PER_IP: windowLimit.optional(),
  RATE_LIMIT_RESET_PER_IP: windowLimit.optional(),
  // Per account and client network: a stranger's three requests use up their own budget, never the owner's.
  RATE_LIMIT_RESET_PER_ACCOUNT_AND_IP: windowLimit.default({ points: 3, durationSeconds: SECONDS_PER_HOUR }),
  // Per account from anywhere: bounds the mail one inbox receives, roomy enough that strangers must come from
  // several networks at once to block its owner.
  RATE_LIMIT_RESET_PER_ACCOUNT: windowLimit.default({ points: 10, durationSeconds: SECONDS_PER_HOUR }),
  // About 200 bytes a counter: the default bounds the in-process limiter near 20 MB however many keys are tried.
  // Split four ways (client networks and accounts, each fresh and held: see BoundedCounters).
  RATE_LIMIT_MEMORY_MAX_KEYS: integer(100, 10_000_000).default(100_000),
  // Reset requests and mails waiting for a (slow) mail server; past it, email-mode reset requests get SERVICE_BUSY.
  BACKGROUND_MAX_PENDING: integer(1, 1_000_000).default(1000),
  GRAPHQL_INTROSPECTION: boolean.optional(),
  PLAYGROUND: boolean.optional(),
  // Deprecated: the name from when /graphql served Apollo's landing page; PLAYGROUND wins when both are set.
  GRAPHQL_LANDING_PAGE: boolean.optional(),
  GRAPHQL_MAX_DEPTH: integer(1, 100).default(6),
  GRAPHQL_MAX_ALIASES: integer(0, 1000).default(15),
  GRAPHQL_MAX_AUTH_MUTATIONS: integer(1, 100).default(1),
  GRAPHQL_MAX_TOKENS: integer(10, 100_000).default(1000),
});
/** The per-network registration and reset limits production (and the tests) run with unless told otherwise. */
const STRICT_PER_NETWORK_LIMITS = {
  registerPerIp: { points: 5, durationSeconds: 10 * 60 },
  resetRequestPerIp: { points: 3, durationSeconds: 60 },
} as const;

/**
 * The same limits for `NODE_ENV=development`: roomy enough for an afternoon of trying the README, the playground
 * and the examples from one machine (every attempt counts, refused ones too), still a limit. The per-account
 * limits and the login back-off are the same everywhere: they protect accounts, not the operator's patience.
 */
const DEVELOPMENT_PER_NETWORK_LIMITS = {
  registerPerIp: { points: 100, durationSeconds: 10 * 60 },
  resetRequestPerIp: { points: 30, durationSeconds: 60 },
} as const;

/** The per-network registration and reset limits a NODE_ENV starts with. */
function perNetworkDefaults(
  nodeEnv: string,
): typeof STRICT_PER_NETWORK_LIMITS | typeof DEVELOPMENT_PER_NETWORK_LIMITS {
  return nodeEnv === 'development' ? DEVELOPMENT_PER_NETWORK_LIMITS : STRICT_PER_NETWORK_LIMITS;
}

/** Every variable the service reads, by name: what `.env.example` must list (a test checks it). */
export const ENV_VARIABLES: readonly string[] = Object.keys(envSchema.shape);

/** The variables that decide how reset tokens travel and whether production may start with them. */
interface DeliveryEnv {
  readonly NODE_ENV?: 'development' | 'production' | 'test' | undefined;
  readonly RESET_TOKEN_DELIVERY?: ResetTokenDelivery | undefined;
  readonly ALLOW_INSECURE_RESET_DELIVERY?: boolean | undefined;
  readonly COOKIE_SECURE?: boolean | undefined;
  readonly ALLOW_INSECURE_COOKIES?: boolean | undefined;
}

/**
 * Those variables, each read on its own: one invalid value (a bad SMTP_URL, say) is reported by the main parse
 * and must not hide what is wrong with the others, as parsing them together did.
 */
function deliveryEnv(present: Record<string, string | undefined>): DeliveryEnv {
  return {
    NODE_ENV: validValue(present, 'NODE_ENV'),
    RESET_TOKEN_DELIVERY: validValue(present, 'RESET_TOKEN_DELIVERY'),
    ALLOW_INSECURE_RESET_DELIVERY: validValue(present, 'ALLOW_INSECURE_RESET_DELIVERY'),
    COOKIE_SECURE: validValue(present, 'COOKIE_SECURE'),
    ALLOW_INSECURE_COOKIES: validValue(present, 'ALLOW_INSECURE_COOKIES'),
  };
}

/** In production reset tokens go by email unless set otherwise; elsewhere they come back in the answer. */
function resetTokenDelivery(e: DeliveryEnv): ResetTokenDelivery {
  return e.RESET_TOKEN_DELIVERY ?? (e.NODE_ENV === 'production' ? 'email' : 'response');
}

/** The value of one variable if it is valid, else undefined (its own problem is reported by the main parse). */
function validValue<K extends keyof typeof envSchema.shape>(
  present: Record<string, string | undefined>,
  key: K,
): z.infer<(typeof envSchema.shape)[K]> | undefined {
  const parsed = envSchema.shape[key].safeParse(present[key]);
  return parsed.success ? (parsed.data as z.infer<(typeof envSchema.shape)[K]>) : undefined;
}

/**
 * What production refuses to start with. Each is a way to lose accounts: a reset token in the answer lets anyone
 * who knows an email take the account over; a cookie without Secure can be read off any plain-HTTP hop; no rate
 * limits turn every account's password into a guessing game; a cheap bcrypt cost makes a leaked database crack
 * quickly; a reset link over plain HTTP (or to localhost, the development default) hands the token to any hop on
 * the way, or to nobody. An operator who really means one of the first four says so with the ALLOW_* variable
 * the message names; the reset link has no such switch, since an https page is always possible.
 */
function productionProblems(e: DeliveryEnv, present: Record<string, string | undefined>): string[] {
  const problems: string[] = [];
  const delivery = resetTokenDelivery(e);
  // Whether it is set at all: a set but invalid SMTP_URL is reported by the main parse, once.
  if (delivery === 'email' && present.SMTP_URL === undefined) {
    problems.push('SMTP_URL: required when reset tokens go by email (RESET_TOKEN_DELIVERY=email)');
  }
  if (e.NODE_ENV !== 'production') return problems;
  if (delivery === 'response' && !e.ALLOW_INSECURE_RESET_DELIVERY) {
    problems.push(
      'RESET_TOKEN_DELIVERY: "response" returns reset tokens to whoever asks, which lets anyone take over any ' +
        'account; use "email", or set ALLOW_INSECURE_RESET_DELIVERY=true to accept that',
    );
  }
  if (e.COOKIE_SECURE === false && !e.ALLOW_INSECURE_COOKIES) {
    problems.push(
      'COOKIE_SECURE: false sends session cookies over plain HTTP in production; set ALLOW_INSECURE_COOKIES=true ' +
        'to accept that',
    );
  }
  if (validValue(present, 'RATE_LIMIT') === 'off' && validValue(present, 'ALLOW_RATE_LIMIT_OFF') !== true) {
    problems.push(
      'RATE_LIMIT: "off" leaves every account open to password guessing and every inbox to reset-mail floods; ' +
        'set ALLOW_RATE_LIMIT_OFF=true to accept that (load tests only)',
    );
  }
  const rounds = validValue(present, 'BCRYPT_ROUNDS');
  if (
    rounds !== undefined &&
    rounds < PRODUCTION_MIN_BCRYPT_ROUNDS &&
    validValue(present, 'ALLOW_WEAK_BCRYPT_ROUNDS') !== true
  ) {
    problems.push(
      `BCRYPT_ROUNDS: ${rounds} is below ${PRODUCTION_MIN_BCRYPT_ROUNDS}, so a leaked database cracks quickly; ` +
        'set ALLOW_WEAK_BCRYPT_ROUNDS=true to accept that',
    );
  }
  if (delivery === 'email' && present.RESET_URL_TEMPLATE === undefined) {
    problems.push(
      'RESET_URL_TEMPLATE: required in production: the https:// address of your reset page, with {token} ' +
        '(the default points at http://localhost, which no user can open)',
    );
  }
  const template = validValue(present, 'RESET_URL_TEMPLATE');
  if (delivery === 'email' && template !== undefined && !isProductionLinkTemplate(template)) {
    problems.push(
      'RESET_URL_TEMPLATE: must be an https:// URL to a host your users can reach in production (not ' +
        'localhost): the link carries a reset token',
    );
  }
  return problems;
}

/** COOKIE_SAME_SITE's values as the Set-Cookie attribute spells them. */
const SAME_SITE_ATTRIBUTES = { lax: 'Lax', strict: 'Strict', none: 'None' } as const;

/**
 * What the cookie settings may not be combined with. SameSite=None sends the session cookie on every other
 * site's requests: browsers refuse it without Secure, and it is only for an app on another site, which must then
 * be listed in CORS_ORIGINS (nothing else could read the answers). A `__Host-` cookie without Secure is refused
 * by browsers too: each would be a service nobody can sign in to, so it does not start.
 */
function cookieProblems(present: Record<string, string | undefined>): string[] {
  const problems: string[] = [];
  const production = validValue(present, 'NODE_ENV') === 'production';
  const secure = validValue(present, 'COOKIE_SECURE') ?? production;
  if (validValue(present, 'COOKIE_SAME_SITE') === 'none') {
    if (!secure)
      problems.push('COOKIE_SAME_SITE: "none" needs COOKIE_SECURE=true (browsers refuse it otherwise)');
    if ((validValue(present, 'CORS_ORIGINS') ?? []).length === 0) {
      problems.push(
        'COOKIE_SAME_SITE: "none" is for an app on another site, which must be listed in CORS_ORIGINS',
      );
    }
  }
  if (validValue(present, 'COOKIE_HOST_PREFIX') === true && !secure) {
    problems.push(
      'COOKIE_HOST_PREFIX: a __Host- cookie needs COOKIE_SECURE=true (browsers refuse it otherwise)',
    );
  }
  return problems;
}

/**
 * Loads `.env` from the working directory into process.env when the file exists, with Node's own parser
 * (process.loadEnvFile, the same as `node --env-file`). A variable already set in the environment wins over the
 * file, so a process manager's settings are never overridden by a file left on the host.
 * @returns whether a file was loaded.
 */
export function loadEnvFile(path = '.env'): boolean {
  if (!existsSync(path)) return false;
  process.loadEnvFile(path);
  return true;
}

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
  const initial = envSchema.shape.RATE_LIMIT_LOGIN_BACKOFF_INITIAL_SECONDS.safeParse(
    present.RATE_LIMIT_LOGIN_BACKOFF_INITIAL_SECONDS,
  );
  const max = envSchema.shape.RATE_LIMIT_LOGIN_BACKOFF_MAX_SECONDS.safeParse(
    present.RATE_LIMIT_LOGIN_BACKOFF_MAX_SECONDS,
  );
  if (initial.success && max.success && initial.data > max.data) {
    problems.push(
      'RATE_LIMIT_LOGIN_BACKOFF_INITIAL_SECONDS: must not exceed RATE_LIMIT_LOGIN_BACKOFF_MAX_SECONDS',
    );
  }
  problems.push(...cookieProblems(present));
  // Checked from their own variables, so a bad PORT does not hide an insecure production setting.
  problems.push(...productionProblems(deliveryEnv(present), present));
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  // One hash per core keeps every core busy without making hashes wait on each other for CPU.
  const bcryptMaxConcurrency = e.BCRYPT_MAX_CONCURRENCY ?? availableParallelism();

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
    // Production serves over HTTPS (directly or behind a proxy): a session cookie must never travel in clear.
    cookieSecure: e.COOKIE_SECURE ?? production,
    cookieSameSite: SAME_SITE_ATTRIBUTES[e.COOKIE_SAME_SITE],
    cookieHostPrefix: e.COOKIE_HOST_PREFIX,
    logLevel: e.LOG_LEVEL,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    requestTimeoutSeconds: e.REQUEST_TIMEOUT_SECONDS,
    handlerTimeoutSeconds: e.HANDLER_TIMEOUT_SECONDS,
    trustProxy: Object.freeze(e.TRUST_PROXY),
    corsOrigins: Object.freeze(e.CORS_ORIGINS),
    bcryptMaxConcurrency,
    // Four waiting per running hash: at cost 12 (about 250 ms) the last one in the queue waits about a second.
    bcryptMaxQueue: e.BCRYPT_MAX_QUEUE ?? 4 * bcryptMaxConcurrency,
    rateLimit: Object.freeze({
      enabled: e.RATE_LIMIT === 'on',
      loginFailuresBeforeBackoff: e.RATE_LIMIT_LOGIN_FAILURES,
      loginBackoffInitialSeconds: e.RATE_LIMIT_LOGIN_BACKOFF_INITIAL_SECONDS,
      loginBackoffMaxSeconds: e.RATE_LIMIT_LOGIN_BACKOFF_MAX_SECONDS,
      loginPerIp: e.RATE_LIMIT_LOGIN_PER_IP,
      registerPerIp: e.RATE_LIMIT_REGISTER_PER_IP ?? perNetworkDefaults(e.NODE_ENV).registerPerIp,
      resetRequestPerIp: e.RATE_LIMIT_RESET_PER_IP ?? perNetworkDefaults(e.NODE_ENV).resetRequestPerIp,
      resetRequestPerAccountAndIp: e.RATE_LIMIT_RESET_PER_ACCOUNT_AND_IP,
      resetRequestPerAccount: e.RATE_LIMIT_RESET_PER_ACCOUNT,
      memoryMaxKeys: e.RATE_LIMIT_MEMORY_MAX_KEYS,
    }),
    redisUrl: e.REDIS_URL ?? null,
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    graphql: Object.freeze({
      // Both expose the schema to anyone who asks; production serves known clients, which need neither.
      introspection: e.GRAPHQL_INTROSPECTION ?? !production,
      playground: e.PLAYGROUND ?? e.GRAPHQL_LANDING_PAGE ?? !production,
      maxDepth: e.GRAPHQL_MAX_DEPTH,
      maxAliases: e.GRAPHQL_MAX_ALIASES,
      maxAuthMutations: e.GRAPHQL_MAX_AUTH_MUTATIONS,
      maxTokens: e.GRAPHQL_MAX_TOKENS,
    }),
    resetTokenDelivery: resetTokenDelivery(e),
    mail: Object.freeze({
      smtpUrl: e.SMTP_URL ?? null,
      from: e.MAIL_FROM,
      resetUrlTemplate: e.RESET_URL_TEMPLATE ?? DEVELOPMENT_RESET_URL_TEMPLATE,
      retryMinSeconds: e.MAIL_RETRY_MIN_SECONDS,
      // A maximum below the minimum would make the first wait the longest: the minimum wins.
      retryMaxSeconds: Math.max(e.MAIL_RETRY_MAX_SECONDS, e.MAIL_RETRY_MIN_SECONDS),
      failedRetentionDays: e.MAIL_FAILED_RETENTION_DAYS,
    }),
    backgroundMaxPending: e.BACKGROUND_MAX_PENDING,
    securityEventRetentionDays: e.SECURITY_EVENT_RETENTION_DAYS,
    cleanupIntervalSeconds: e.CLEANUP_INTERVAL_SECONDS,
    cleanupBatchSize: e.CLEANUP_BATCH_SIZE,
  });
}

/**
 * What an operator must hear at every start about this configuration, while it holds: settings that are allowed
 * but dangerous outside their purpose. Said beside the settings, logged by the composition root.
 */
export function startupWarnings(config: Config): string[] {
  const warnings: string[] = [];
  if (config.nodeEnv === 'production' && config.resetTokenDelivery === 'response') {
    // Production only starts like this with ALLOW_INSECURE_RESET_DELIVERY=true: still say it at every start.
    warnings.push(
      'password reset tokens are returned in API responses (development behaviour): anyone who knows an email ' +
        'can take over its account; do not expose this instance to untrusted clients',
    );
  }
  if (!config.rateLimit.enabled) {
    warnings.push(
      'RATE_LIMIT=off: no brute-force or spam limits apply; use this only for load tests, never in production',
    );
  }
  return warnings;
}
