// Config parsing: defaults, accepted spellings, and a ConfigError naming every bad variable.
import { availableParallelism } from 'node:os';
import { ConfigError, loadConfig, type Config } from '../../src/config';

const DEFAULTS: Config = {
  nodeEnv: 'development',
  port: 5000,
  host: '127.0.0.1',
  database: { dialect: 'sqlite', sqlitePath: './data/auth.sqlite' },
  bcryptRounds: 12,
  sessionIdleTtlSeconds: 604800,
  sessionAbsoluteTtlSeconds: 2592000,
  sessionTouchIntervalSeconds: 3600,
  resetTokenTtlSeconds: 3600,
  cookieSecure: false,
  cookieSameSite: 'Lax',
  cookieHostPrefix: false,
  logLevel: 'info',
  bodyLimitBytes: 65536,
  requestTimeoutSeconds: 10,
  handlerTimeoutSeconds: 30,
  trustProxy: [],
  corsOrigins: [],
  bcryptMaxConcurrency: availableParallelism(),
  bcryptMaxQueue: 4 * availableParallelism(),
  rateLimit: {
    enabled: true,
    loginFailuresBeforeBackoff: 5,
    loginBackoffInitialSeconds: 1,
    loginBackoffMaxSeconds: 300,
    loginPerIp: { points: 30, durationSeconds: 60 },
    // NODE_ENV=development's roomy per-network defaults; production and test keep 5/10m and 3/1m (below).
    registerPerIp: { points: 100, durationSeconds: 600 },
    resetRequestPerIp: { points: 30, durationSeconds: 60 },
    resetRequestPerAccountAndIp: { points: 3, durationSeconds: 3600 },
    resetRequestPerAccount: { points: 10, durationSeconds: 3600 },
    memoryMaxKeys: 100_000,
  },
  redisUrl: null,
  redisKeyPrefix: 'auth',
  graphql: {
    introspection: true,
    playground: true,
    maxDepth: 6,
    maxAliases: 15,
    maxAuthMutations: 1,
    maxTokens: 1000,
  },
  resetTokenDelivery: 'response',
  mail: {
    smtpUrl: null,
    from: 'user-auth-service <no-reply@localhost>',
    resetUrlTemplate: 'http://localhost:5000/reset-password?email={email}&token={token}',
    retryMinSeconds: 5,
    retryMaxSeconds: 300,
    failedRetentionDays: 30,
  },
  backgroundMaxPending: 1000,
  securityEventRetentionDays: 90,
  cleanupIntervalSeconds: 600,
  cleanupBatchSize: 500,
};

/** What production needs to send reset mail, for tests about other production settings. */
const PRODUCTION_MAIL = {
  SMTP_URL: 'smtp://127.0.0.1:25',
  RESET_URL_TEMPLATE: 'https://app.example.com/reset?t={token}',
} as const;

/** The ConfigError loadConfig throws for this environment; fails the test if it throws nothing or something else. */
function configErrorFrom(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

/** The variable each problem names, in order ("PORT: must be a whole number" names PORT). */
function namedVariables(error: ConfigError): string[] {
  return error.problems.map((problem) => problem.slice(0, problem.indexOf(':')));
}

describe('loadConfig', () => {
  it('gives every documented default for an empty environment', () => {
    expect(loadConfig({})).toEqual(DEFAULTS);
  });

  it.each(['production', 'test'])(
    'keeps the strict per-network registration and reset limits with NODE_ENV=%s',
    (nodeEnv) => {
      const { rateLimit } = loadConfig({
        NODE_ENV: nodeEnv,
        RESET_TOKEN_DELIVERY: 'response',
        ALLOW_INSECURE_RESET_DELIVERY: 'true',
      });
      expect([rateLimit.registerPerIp, rateLimit.resetRequestPerIp]).toEqual([
        { points: 5, durationSeconds: 600 },
        { points: 3, durationSeconds: 60 },
      ]);
    },
  );

  it('treats empty strings as unset', () => {
    const allEmpty = {
      NODE_ENV: '',
      PORT: '',
      HOST: '',
      DATABASE_URL: '',
      BCRYPT_ROUNDS: '',
      SESSION_IDLE_TTL_SECONDS: '',
      SESSION_ABSOLUTE_TTL_SECONDS: '',
      SESSION_TOUCH_INTERVAL_SECONDS: '',
      RESET_TOKEN_TTL_SECONDS: '',
      COOKIE_SECURE: '',
      LOG_LEVEL: '',
      BODY_LIMIT_BYTES: '',
    };
    expect(loadConfig(allEmpty)).toEqual(DEFAULTS);
  });

  it('ignores variables it does not own', () => {
    expect(loadConfig({ PATH: '/usr/bin', HOME: '/root', port: 'not-ours' })).toEqual(DEFAULTS);
  });

  it('reads every variable it owns', () => {
    const config = loadConfig({
      NODE_ENV: 'production',
      PORT: '8080',
      HOST: '0.0.0.0',
      DATABASE_URL: '/var/lib/auth/auth.sqlite',
      BCRYPT_ROUNDS: '4',
      SESSION_IDLE_TTL_SECONDS: '120',
      SESSION_ABSOLUTE_TTL_SECONDS: '240',
      SESSION_TOUCH_INTERVAL_SECONDS: '0',
      RESET_TOKEN_TTL_SECONDS: '600',
      COOKIE_SECURE: 'true',
      COOKIE_SAME_SITE: 'Strict',
      COOKIE_HOST_PREFIX: 'true',
      LOG_LEVEL: 'silent',
      BODY_LIMIT_BYTES: '1024',
      REQUEST_TIMEOUT_SECONDS: '5',
      HANDLER_TIMEOUT_SECONDS: '7',
      TRUST_PROXY: '10.0.0.1, 10.1.0.0/16,loopback,2001:db8::/32',
      CORS_ORIGINS: 'https://app.example.com,http://localhost:3000',
      BCRYPT_MAX_CONCURRENCY: '3',
      BCRYPT_MAX_QUEUE: '0',
      RATE_LIMIT: 'off',
      ALLOW_RATE_LIMIT_OFF: 'true',
      ALLOW_WEAK_BCRYPT_ROUNDS: 'true',
      RATE_LIMIT_LOGIN_FAILURES: '3',
      RATE_LIMIT_LOGIN_BACKOFF_INITIAL_SECONDS: '2',
      RATE_LIMIT_LOGIN_BACKOFF_MAX_SECONDS: '60',
      RATE_LIMIT_LOGIN_PER_IP: '100/30s',
      RATE_LIMIT_REGISTER_PER_IP: '10/2m',
      RATE_LIMIT_RESET_PER_IP: '4/1h',
      RATE_LIMIT_RESET_PER_ACCOUNT_AND_IP: '1/2h',
      RATE_LIMIT_RESET_PER_ACCOUNT: '2/3h',
      RATE_LIMIT_MEMORY_MAX_KEYS: '1000',
      REDIS_URL: 'redis://cache.example.com:6379',
      REDIS_KEY_PREFIX: 'auth-eu',
      GRAPHQL_INTROSPECTION: 'true',
      PLAYGROUND: 'yes',
      GRAPHQL_MAX_DEPTH: '8',
      GRAPHQL_MAX_ALIASES: '0',
      GRAPHQL_MAX_AUTH_MUTATIONS: '2',
      GRAPHQL_MAX_TOKENS: '500',
      RESET_TOKEN_DELIVERY: 'email',
      SMTP_URL: 'smtp://mail.example.com:587',
      MAIL_FROM: 'Auth <auth@example.com>',
      RESET_URL_TEMPLATE: 'https://app.example.com/reset?t={token}',
      MAIL_RETRY_MIN_SECONDS: '10',
      MAIL_RETRY_MAX_SECONDS: '600',
      MAIL_FAILED_RETENTION_DAYS: '14',
      SECURITY_EVENT_RETENTION_DAYS: '30',
      CLEANUP_INTERVAL_SECONDS: '60',
      CLEANUP_BATCH_SIZE: '100',
      BACKGROUND_MAX_PENDING: '50',
    });
    expect(config).toEqual({
      nodeEnv: 'production',
      port: 8080,
      host: '0.0.0.0',
      database: { dialect: 'sqlite', sqlitePath: '/var/lib/auth/auth.sqlite' },
      bcryptRounds: 4,
      sessionIdleTtlSeconds: 120,
      sessionAbsoluteTtlSeconds: 240,
      sessionTouchIntervalSeconds: 0,
      resetTokenTtlSeconds: 600,
      cookieSecure: true,
      cookieSameSite: 'Strict',
      cookieHostPrefix: true,
      logLevel: 'silent',
      bodyLimitBytes: 1024,
      requestTimeoutSeconds: 5,
      handlerTimeoutSeconds: 7,
      trustProxy: ['10.0.0.1', '10.1.0.0/16', 'loopback', '2001:db8::/32'],
      corsOrigins: ['https://app.example.com', 'http://localhost:3000'],
      bcryptMaxConcurrency: 3,
      bcryptMaxQueue: 0,
      rateLimit: {
        enabled: false,
        loginFailuresBeforeBackoff: 3,
        loginBackoffInitialSeconds: 2,
        loginBackoffMaxSeconds: 60,
        loginPerIp: { points: 100, durationSeconds: 30 },
        registerPerIp: { points: 10, durationSeconds: 120 },
        resetRequestPerIp: { points: 4, durationSeconds: 3600 },
        resetRequestPerAccountAndIp: { points: 1, durationSeconds: 7200 },
        resetRequestPerAccount: { points: 2, durationSeconds: 10800 },
        memoryMaxKeys: 1000,
      },
      redisUrl: 'redis://cache.example.com:6379',
      redisKeyPrefix: 'auth-eu',
      graphql: {
        introspection: true,
        playground: true,
        maxDepth: 8,
        maxAliases: 0,
        maxAuthMutations: 2,
        maxTokens: 500,
      },
      resetTokenDelivery: 'email',
      mail: {
        smtpUrl: 'smtp://mail.example.com:587',
        from: 'Auth <auth@example.com>',
        resetUrlTemplate: 'https://app.example.com/reset?t={token}',
        retryMinSeconds: 10,
        retryMaxSeconds: 600,
        failedRetentionDays: 14,
      },
      backgroundMaxPending: 50,
      securityEventRetentionDays: 30,
      cleanupIntervalSeconds: 60,
      cleanupBatchSize: 100,
    });
  });

  it('turns GraphQL introspection and the playground off in production unless told otherwise', () => {
    expect(loadConfig({ NODE_ENV: 'production', ...PRODUCTION_MAIL }).graphql).toMatchObject({
      introspection: false,
      playground: false,
    });
    expect(loadConfig({ NODE_ENV: 'test' }).graphql).toMatchObject({
      introspection: true,
      playground: true,
    });
  });

  it.each([
    [{ NODE_ENV: 'production', PLAYGROUND: 'true' }, true],
    [{ NODE_ENV: 'development', PLAYGROUND: 'false' }, false],
    [{ NODE_ENV: 'production', GRAPHQL_LANDING_PAGE: 'true' }, true],
    [{ NODE_ENV: 'development', GRAPHQL_LANDING_PAGE: 'false' }, false],
    [{ NODE_ENV: 'production', PLAYGROUND: 'false', GRAPHQL_LANDING_PAGE: 'true' }, false],
    [{ NODE_ENV: 'development', PLAYGROUND: 'true', GRAPHQL_LANDING_PAGE: 'false' }, true],
  ])(
    'with %j the playground is %s (GRAPHQL_LANDING_PAGE is its deprecated name; PLAYGROUND wins)',
    (env, on) => {
      expect(loadConfig({ ...PRODUCTION_MAIL, ...env }).graphql.playground).toBe(on);
    },
  );

  it('sizes the bcrypt queue from the concurrency when only that is set', () => {
    expect(loadConfig({ BCRYPT_MAX_CONCURRENCY: '3' })).toMatchObject({
      bcryptMaxConcurrency: 3,
      bcryptMaxQueue: 12,
    });
  });

  it('returns a frozen config, database part included', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.database)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it.each([
    ['a plain file path', './data/other.sqlite', './data/other.sqlite'],
    ['sqlite:<absolute path>', 'sqlite:/tmp/x.db', '/tmp/x.db'],
    ['sqlite:///<absolute path>', 'sqlite:///tmp/x.db', '/tmp/x.db'],
    ['sqlite:<relative path>', 'sqlite:data/x.db', 'data/x.db'],
    [':memory:', ':memory:', ':memory:'],
    ['sqlite::memory:', 'sqlite::memory:', ':memory:'],
  ])('reads DATABASE_URL given as %s', (_case, url, sqlitePath) => {
    expect(loadConfig({ DATABASE_URL: url }).database).toEqual({ dialect: 'sqlite', sqlitePath });
  });

  it.each([
    ['true', true],
    ['TRUE', true],
    ['True', true],
    ['1', true],
    ['yes', true],
    ['YES', true],
    ['false', false],
    ['FALSE', false],
    ['False', false],
    ['0', false],
    ['no', false],
    ['NO', false],
  ])('reads COOKIE_SECURE=%s as %s', (value, cookieSecure) => {
    expect(loadConfig({ COOKIE_SECURE: value }).cookieSecure).toBe(cookieSecure);
  });

  it.each([
    ['PORT', { PORT: 'abc' }],
    ['PORT', { PORT: '70000' }],
    ['PORT', { PORT: '-1' }],
    ['BCRYPT_ROUNDS', { BCRYPT_ROUNDS: '3' }],
    ['BCRYPT_ROUNDS', { BCRYPT_ROUNDS: '32' }],
    ['BCRYPT_ROUNDS', { BCRYPT_ROUNDS: 'abc' }],
    ['BCRYPT_ROUNDS', { BCRYPT_ROUNDS: '12.5' }],
    ['COOKIE_SECURE', { COOKIE_SECURE: 'maybe' }],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }],
    ['NODE_ENV', { NODE_ENV: 'staging' }],
    ['DATABASE_URL', { DATABASE_URL: 'postgres://x' }],
    ['DATABASE_URL', { DATABASE_URL: 'postgresql://x' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://x' }],
    ['DATABASE_URL', { DATABASE_URL: 'sqlite:' }],
    ['SESSION_IDLE_TTL_SECONDS', { SESSION_IDLE_TTL_SECONDS: '7200', SESSION_ABSOLUTE_TTL_SECONDS: '3600' }],
    ['BODY_LIMIT_BYTES', { BODY_LIMIT_BYTES: '10' }],
    ['TRUST_PROXY', { TRUST_PROXY: 'proxy.example.com' }],
    ['TRUST_PROXY', { TRUST_PROXY: '10.0.0.0/33' }],
    ['TRUST_PROXY', { TRUST_PROXY: '10.0.0.1/8/8' }],
    ['CORS_ORIGINS', { CORS_ORIGINS: '*' }],
    ['CORS_ORIGINS', { CORS_ORIGINS: 'https://app.example.com/' }],
    ['CORS_ORIGINS', { CORS_ORIGINS: 'https://app.example.com/path' }],
    ['CORS_ORIGINS', { CORS_ORIGINS: 'ftp://app.example.com' }],
    ['BCRYPT_MAX_CONCURRENCY', { BCRYPT_MAX_CONCURRENCY: '0' }],
    ['RATE_LIMIT', { RATE_LIMIT: 'false' }],
    ['RATE_LIMIT_LOGIN_PER_IP', { RATE_LIMIT_LOGIN_PER_IP: '30' }],
    ['RATE_LIMIT_LOGIN_PER_IP', { RATE_LIMIT_LOGIN_PER_IP: '30/1d' }],
    ['RATE_LIMIT_REGISTER_PER_IP', { RATE_LIMIT_REGISTER_PER_IP: '0/1m' }],
    ['RATE_LIMIT_RESET_PER_ACCOUNT', { RATE_LIMIT_RESET_PER_ACCOUNT: '3/0h' }],
    [
      'RATE_LIMIT_LOGIN_BACKOFF_INITIAL_SECONDS',
      { RATE_LIMIT_LOGIN_BACKOFF_INITIAL_SECONDS: '60', RATE_LIMIT_LOGIN_BACKOFF_MAX_SECONDS: '30' },
    ],
    ['GRAPHQL_MAX_TOKENS', { GRAPHQL_MAX_TOKENS: '5' }],
    ['MAIL_RETRY_MIN_SECONDS', { MAIL_RETRY_MIN_SECONDS: '0' }],
    ['MAIL_RETRY_MAX_SECONDS', { MAIL_RETRY_MAX_SECONDS: '1.5' }],
    ['MAIL_FAILED_RETENTION_DAYS', { MAIL_FAILED_RETENTION_DAYS: '0' }],
    ['REDIS_URL', { REDIS_URL: 'http://cache.example.com' }],
    ['REDIS_URL', { REDIS_URL: 'redis://' }],
    ['REDIS_KEY_PREFIX', { REDIS_KEY_PREFIX: 'has space' }],
    ['GRAPHQL_INTROSPECTION', { GRAPHQL_INTROSPECTION: 'sometimes' }],
    ['SESSION_TOUCH_INTERVAL_SECONDS', { SESSION_TOUCH_INTERVAL_SECONDS: '604800' }],
    [
      'SESSION_TOUCH_INTERVAL_SECONDS',
      { SESSION_IDLE_TTL_SECONDS: '600', SESSION_TOUCH_INTERVAL_SECONDS: '3600' },
    ],
    [
      'SESSION_TOUCH_INTERVAL_SECONDS',
      { SESSION_IDLE_TTL_SECONDS: '600', SESSION_TOUCH_INTERVAL_SECONDS: '600' },
    ],
    [
      'SESSION_IDLE_TTL_SECONDS',
      {
        SESSION_IDLE_TTL_SECONDS: '3601',
        SESSION_ABSOLUTE_TTL_SECONDS: '3600',
        SESSION_TOUCH_INTERVAL_SECONDS: '60',
      },
    ],
  ])('throws a ConfigError naming %s for %j', (variable, env) => {
    const error = configErrorFrom(env);
    expect(error.name).toBe('ConfigError');
    expect(namedVariables(error)).toEqual([variable]);
    expect(error.message).toContain(`\n  - ${variable}: `);
  });

  it('reads the mail retry pacing, and never lets the longest wait be shorter than the first', () => {
    expect(
      loadConfig({
        MAIL_RETRY_MIN_SECONDS: '2',
        MAIL_RETRY_MAX_SECONDS: '60',
        MAIL_FAILED_RETENTION_DAYS: '7',
      }).mail,
    ).toMatchObject({ retryMinSeconds: 2, retryMaxSeconds: 60, failedRetentionDays: 7 });
    expect(loadConfig({ MAIL_RETRY_MIN_SECONDS: '120', MAIL_RETRY_MAX_SECONDS: '60' }).mail).toMatchObject({
      retryMinSeconds: 120,
      retryMaxSeconds: 120,
    });
  });

  it('accepts an idle TTL equal to the absolute TTL', () => {
    const config = loadConfig({
      SESSION_IDLE_TTL_SECONDS: '3600',
      SESSION_ABSOLUTE_TTL_SECONDS: '3600',
      SESSION_TOUCH_INTERVAL_SECONDS: '60',
    });
    expect(config).toMatchObject({
      sessionIdleTtlSeconds: 3600,
      sessionAbsoluteTtlSeconds: 3600,
      sessionTouchIntervalSeconds: 60,
    });
  });

  it('names every bad variable in one error', () => {
    const error = configErrorFrom({
      PORT: 'abc',
      BCRYPT_ROUNDS: '3',
      LOG_LEVEL: 'loud',
      NODE_ENV: 'staging',
    });
    expect(namedVariables(error).sort()).toEqual(['BCRYPT_ROUNDS', 'LOG_LEVEL', 'NODE_ENV', 'PORT']);
    for (const variable of ['PORT', 'BCRYPT_ROUNDS', 'LOG_LEVEL', 'NODE_ENV']) {
      expect(error.message).toContain(`  - ${variable}: `);
    }
  });

  it('names a bad DATABASE_URL and a bad TTL pair alongside a bad PORT', () => {
    const error = configErrorFrom({
      PORT: 'abc',
      DATABASE_URL: 'postgres://x',
      SESSION_IDLE_TTL_SECONDS: '7200',
      SESSION_ABSOLUTE_TTL_SECONDS: '3600',
    });
    expect(namedVariables(error).sort()).toEqual(['DATABASE_URL', 'PORT', 'SESSION_IDLE_TTL_SECONDS']);
  });
});

describe('COOKIE_SAME_SITE and COOKIE_HOST_PREFIX', () => {
  it.each([
    ['lax', 'Lax'],
    ['Strict', 'Strict'],
    ['NONE', 'None'],
  ])('reads COOKIE_SAME_SITE=%s as SameSite=%s', (value, attribute) => {
    const env = { COOKIE_SAME_SITE: value, COOKIE_SECURE: 'true', CORS_ORIGINS: 'https://app.example' };
    expect(loadConfig(env).cookieSameSite).toBe(attribute);
  });

  it('refuses SameSite=None without Secure and without CORS_ORIGINS, naming both', () => {
    expect(() => loadConfig({ COOKIE_SAME_SITE: 'none' })).toThrow(
      new ConfigError([
        'COOKIE_SAME_SITE: "none" needs COOKIE_SECURE=true (browsers refuse it otherwise)',
        'COOKIE_SAME_SITE: "none" is for an app on another site, which must be listed in CORS_ORIGINS',
      ]),
    );
  });

  it('refuses a __Host- cookie without Secure, and a value it does not know', () => {
    expect(() => loadConfig({ COOKIE_HOST_PREFIX: 'true' })).toThrow(
      new ConfigError([
        'COOKIE_HOST_PREFIX: a __Host- cookie needs COOKIE_SECURE=true (browsers refuse it otherwise)',
      ]),
    );
    expect(() => loadConfig({ COOKIE_SAME_SITE: 'sometimes' })).toThrow(ConfigError);
  });
});
