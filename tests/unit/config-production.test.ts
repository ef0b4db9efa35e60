// Production's safe defaults (email reset delivery, Secure cookies) and the insecure settings it refuses to start with.
import { ConfigError, loadConfig } from '../../src/config';

const SMTP_URL = 'smtp://mail.example.com:587';
const RESET_URL_TEMPLATE = 'https://app.example.com/reset?email={email}&token={token}';
const PRODUCTION = { NODE_ENV: 'production', SMTP_URL, RESET_URL_TEMPLATE } as const;

const SMTP_URL_REQUIRED = 'SMTP_URL: required when reset tokens go by email (RESET_TOKEN_DELIVERY=email)';

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

describe('NODE_ENV=production', () => {
  it('sends reset tokens by email and marks the session cookie Secure by default', () => {
    const config = loadConfig(PRODUCTION);
    expect(config.nodeEnv).toBe('production');
    expect(config.resetTokenDelivery).toBe('email');
    expect(config.cookieSecure).toBe(true);
    expect(config.mail).toEqual({
      smtpUrl: SMTP_URL,
      from: 'user-auth-service <no-reply@localhost>',
      resetUrlTemplate: RESET_URL_TEMPLATE,
      retryMinSeconds: 5,
      retryMaxSeconds: 300,
      failedRetentionDays: 30,
    });
  });

  it('treats empty RESET_TOKEN_DELIVERY and COOKIE_SECURE as unset, so the safe defaults hold', () => {
    const config = loadConfig({ ...PRODUCTION, RESET_TOKEN_DELIVERY: '', COOKIE_SECURE: '' });
    expect(config.resetTokenDelivery).toBe('email');
    expect(config.cookieSecure).toBe(true);
  });

  it.each([
    ['unset', {}],
    ['empty', { SMTP_URL: '' }],
    ['unset, even with ALLOW_INSECURE_RESET_DELIVERY=true', { ALLOW_INSECURE_RESET_DELIVERY: 'true' }],
  ])('refuses to start without SMTP_URL (%s), naming SMTP_URL', (_case, env) => {
    expect(configErrorFrom({ NODE_ENV: 'production', RESET_URL_TEMPLATE, ...env }).problems).toEqual([
      SMTP_URL_REQUIRED,
    ]);
  });

  describe('RESET_TOKEN_DELIVERY=response', () => {
    it('is refused, naming RESET_TOKEN_DELIVERY and the variable that would allow it', () => {
      const error = configErrorFrom({ ...PRODUCTION, RESET_TOKEN_DELIVERY: 'response' });
      expect(namedVariables(error)).toEqual(['RESET_TOKEN_DELIVERY']);
      expect(error.problems[0]).toContain('ALLOW_INSECURE_RESET_DELIVERY=true');
      expect(error.message).toBe(`Invalid configuration:\n  - ${error.problems[0]}`);
    });

    it.each(['false', '0', 'no'])('is refused with ALLOW_INSECURE_RESET_DELIVERY=%s', (allow) => {
      const error = configErrorFrom({
        ...PRODUCTION,
        RESET_TOKEN_DELIVERY: 'response',
        ALLOW_INSECURE_RESET_DELIVERY: allow,
      });
      expect(namedVariables(error)).toEqual(['RESET_TOKEN_DELIVERY']);
    });

    it.each(['true', '1', 'yes', 'TRUE'])('starts with ALLOW_INSECURE_RESET_DELIVERY=%s', (allow) => {
      const config = loadConfig({
        ...PRODUCTION,
        RESET_TOKEN_DELIVERY: 'response',
        ALLOW_INSECURE_RESET_DELIVERY: allow,
      });
      expect(config.resetTokenDelivery).toBe('response');
    });

    it('needs no SMTP_URL once allowed (notices are then simply not sent)', () => {
      const config = loadConfig({
        NODE_ENV: 'production',
        RESET_TOKEN_DELIVERY: 'response',
        ALLOW_INSECURE_RESET_DELIVERY: 'true',
      });
      expect(config.resetTokenDelivery).toBe('response');
      expect(config.mail.smtpUrl).toBeNull();
    });
  });

  describe('COOKIE_SECURE=false', () => {
    it.each(['false', '0', 'no'])('is refused as COOKIE_SECURE=%s, naming COOKIE_SECURE', (value) => {
      const error = configErrorFrom({ ...PRODUCTION, COOKIE_SECURE: value });
      expect(namedVariables(error)).toEqual(['COOKIE_SECURE']);
      expect(error.problems[0]).toContain('ALLOW_INSECURE_COOKIES=true');
    });

    it('is refused with ALLOW_INSECURE_COOKIES=false', () => {
      const error = configErrorFrom({
        ...PRODUCTION,
        COOKIE_SECURE: 'false',
        ALLOW_INSECURE_COOKIES: 'false',
      });
      expect(namedVariables(error)).toEqual(['COOKIE_SECURE']);
    });

    it('starts with ALLOW_INSECURE_COOKIES=true', () => {
      const config = loadConfig({ ...PRODUCTION, COOKIE_SECURE: 'false', ALLOW_INSECURE_COOKIES: 'true' });
      expect(config.cookieSecure).toBe(false);
    });
  });

  it('needs no permission for COOKIE_SECURE=true, and ALLOW_INSECURE_COOKIES alone keeps cookies Secure', () => {
    expect(loadConfig({ ...PRODUCTION, COOKIE_SECURE: 'true' }).cookieSecure).toBe(true);
    expect(loadConfig({ ...PRODUCTION, ALLOW_INSECURE_COOKIES: 'true' }).cookieSecure).toBe(true);
  });

  it('names every refusal at once', () => {
    expect(
      namedVariables(
        configErrorFrom({ ...PRODUCTION, RESET_TOKEN_DELIVERY: 'response', COOKIE_SECURE: 'false' }),
      ),
    ).toEqual(['RESET_TOKEN_DELIVERY', 'COOKIE_SECURE']);
    expect(namedVariables(configErrorFrom({ NODE_ENV: 'production', COOKIE_SECURE: 'false' }))).toEqual([
      'SMTP_URL',
      'COOKIE_SECURE',
      'RESET_URL_TEMPLATE',
    ]);
  });

  it('names the refusals together with a cross-variable problem', () => {
    const error = configErrorFrom({
      ...PRODUCTION,
      COOKIE_SECURE: 'false',
      SESSION_IDLE_TTL_SECONDS: '7200',
      SESSION_ABSOLUTE_TTL_SECONDS: '3600',
    });
    expect(namedVariables(error)).toEqual(['SESSION_IDLE_TTL_SECONDS', 'COOKIE_SECURE']);
  });

  // The refusals are checked even when another variable does not parse: loadConfig's contract is a ConfigError
  // "naming every invalid variable", so an operator learns of all of them in one failed start.
  it('names the refusals even when another variable is invalid', () => {
    const error = configErrorFrom({
      ...PRODUCTION,
      PORT: 'eighty',
      RESET_TOKEN_DELIVERY: 'response',
      COOKIE_SECURE: 'false',
    });
    expect(namedVariables(error)).toEqual(['PORT', 'RESET_TOKEN_DELIVERY', 'COOKIE_SECURE']);
  });

  it.each([
    ['ALLOW_INSECURE_RESET_DELIVERY', { ALLOW_INSECURE_RESET_DELIVERY: 'maybe' }],
    ['ALLOW_INSECURE_COOKIES', { ALLOW_INSECURE_COOKIES: 'sure' }],
  ])('names %s when it is not a boolean', (variable, env) => {
    expect(namedVariables(configErrorFrom({ ...PRODUCTION, ...env }))).toEqual([variable]);
  });
});

describe('NODE_ENV=production refuses development settings unless acknowledged', () => {
  it.each([
    ['RATE_LIMIT=off', { RATE_LIMIT: 'off' }, 'RATE_LIMIT', 'ALLOW_RATE_LIMIT_OFF=true'],
    ['BCRYPT_ROUNDS=9', { BCRYPT_ROUNDS: '9' }, 'BCRYPT_ROUNDS', 'ALLOW_WEAK_BCRYPT_ROUNDS=true'],
    ['BCRYPT_ROUNDS=4', { BCRYPT_ROUNDS: '4' }, 'BCRYPT_ROUNDS', 'ALLOW_WEAK_BCRYPT_ROUNDS=true'],
  ])('refuses %s, naming it and the variable that would allow it', (_case, env, variable, allow) => {
    const error = configErrorFrom({ ...PRODUCTION, ...env });
    expect(namedVariables(error)).toEqual([variable]);
    expect(error.problems[0]).toContain(allow);
  });

  it.each([
    ['RATE_LIMIT=off', { RATE_LIMIT: 'off', ALLOW_RATE_LIMIT_OFF: 'true' }],
    ['BCRYPT_ROUNDS=4', { BCRYPT_ROUNDS: '4', ALLOW_WEAK_BCRYPT_ROUNDS: 'true' }],
  ])('starts with %s once acknowledged', (_case, env) => {
    expect(() => loadConfig({ ...PRODUCTION, ...env })).not.toThrow();
  });

  it.each([
    ['ALLOW_RATE_LIMIT_OFF=false', { RATE_LIMIT: 'off', ALLOW_RATE_LIMIT_OFF: 'false' }, 'RATE_LIMIT'],
    ['ALLOW_WEAK_BCRYPT_ROUNDS=0', { BCRYPT_ROUNDS: '8', ALLOW_WEAK_BCRYPT_ROUNDS: '0' }, 'BCRYPT_ROUNDS'],
  ])('still refuses with %s', (_case, env, variable) => {
    expect(namedVariables(configErrorFrom({ ...PRODUCTION, ...env }))).toEqual([variable]);
  });

  it('starts with BCRYPT_ROUNDS=10 and RATE_LIMIT=on without any acknowledgement', () => {
    const config = loadConfig({ ...PRODUCTION, BCRYPT_ROUNDS: '10', RATE_LIMIT: 'on' });
    expect(config.bcryptRounds).toBe(10);
    expect(config.rateLimit.enabled).toBe(true);
  });

  it('requires RESET_URL_TEMPLATE: the development default is a localhost link', () => {
    const error = configErrorFrom({ NODE_ENV: 'production', SMTP_URL });
    expect(namedVariables(error)).toEqual(['RESET_URL_TEMPLATE']);
    expect(error.problems[0]).toContain('https://');
  });

  it.each([
    'http://app.example.com/reset?token={token}',
    'HTTP://app.example.com/reset?token={token}',
    'http://localhost:5000/reset-password?email={email}&token={token}',
    // https, but to a host only the reader's own machine is: the mail's link opens nothing (or the wrong thing).
    'https://localhost/reset?token={token}',
    'https://LOCALHOST:8443/reset?token={token}',
    'https://app.localhost/reset?token={token}',
    'https://127.0.0.1/reset?token={token}',
    'https://[::1]/reset?token={token}',
  ])('refuses the reset link %s', (template) => {
    expect(configErrorFrom({ ...PRODUCTION, RESET_URL_TEMPLATE: template }).problems).toEqual([
      'RESET_URL_TEMPLATE: must be an https:// URL to a host your users can reach in production (not ' +
        'localhost): the link carries a reset token',
    ]);
  });

  it('reads the scheme as a URL does: HTTPS:// is https', () => {
    const config = loadConfig({ ...PRODUCTION, RESET_URL_TEMPLATE: 'HTTPS://app.example.com/r?t={token}' });
    expect(config.mail.resetUrlTemplate).toBe('HTTPS://app.example.com/r?t={token}');
  });

  it.each([
    ['SMTP_URL', { SMTP_URL: 'mail.example.com:25' }],
    ['COOKIE_SECURE', { COOKIE_SECURE: 'perhaps' }],
    ['RESET_TOKEN_DELIVERY', { RESET_TOKEN_DELIVERY: 'pigeon' }],
  ])('names the other refusals when %s is invalid too', (variable, env) => {
    const error = configErrorFrom({ ...PRODUCTION, ...env, RATE_LIMIT: 'off', BCRYPT_ROUNDS: '4' });
    expect(namedVariables(error).sort()).toEqual([variable, 'BCRYPT_ROUNDS', 'RATE_LIMIT'].sort());
  });

  it('needs no reset link when tokens are returned in the answer (and that is acknowledged)', () => {
    const config = loadConfig({
      NODE_ENV: 'production',
      RESET_TOKEN_DELIVERY: 'response',
      ALLOW_INSECURE_RESET_DELIVERY: 'true',
    });
    expect(config.mail.resetUrlTemplate).toBe(
      'http://localhost:5000/reset-password?email={email}&token={token}',
    );
  });

  it('names every development setting at once, with the other refusals', () => {
    const error = configErrorFrom({
      NODE_ENV: 'production',
      SMTP_URL,
      RATE_LIMIT: 'off',
      BCRYPT_ROUNDS: '4',
      COOKIE_SECURE: 'false',
      RESET_URL_TEMPLATE: 'http://app.example.com/{token}',
    });
    expect(namedVariables(error)).toEqual([
      'COOKIE_SECURE',
      'RATE_LIMIT',
      'BCRYPT_ROUNDS',
      'RESET_URL_TEMPLATE',
    ]);
  });
});

describe('RESET_URL_TEMPLATE anywhere', () => {
  it.each(['ftp://files.example.com/{token}', 'reset/{token}', 'javascript:alert({token})'])(
    'refuses %s, which is not an http(s) link',
    (template) => {
      expect(configErrorFrom({ RESET_URL_TEMPLATE: template }).problems).toEqual([
        'RESET_URL_TEMPLATE: must be an http:// or https:// URL once {token} and {email} are filled in',
      ]);
    },
  );
});

describe('outside production', () => {
  it.each([
    ['unset', {}],
    ['development', { NODE_ENV: 'development' }],
    ['test', { NODE_ENV: 'test' }],
  ])('NODE_ENV %s: tokens come back in the answer and cookies are not Secure by default', (_case, env) => {
    const config = loadConfig(env);
    expect(config.resetTokenDelivery).toBe('response');
    expect(config.cookieSecure).toBe(false);
    expect(config.mail.smtpUrl).toBeNull();
  });

  it('accepts RESET_TOKEN_DELIVERY=response and COOKIE_SECURE=false without any ALLOW_INSECURE_*', () => {
    const config = loadConfig({
      NODE_ENV: 'development',
      RESET_TOKEN_DELIVERY: 'response',
      COOKIE_SECURE: 'false',
    });
    expect(config.resetTokenDelivery).toBe('response');
    expect(config.cookieSecure).toBe(false);
  });

  it('delivers by email when told to and SMTP_URL is set', () => {
    const config = loadConfig({ NODE_ENV: 'development', RESET_TOKEN_DELIVERY: 'email', SMTP_URL });
    expect(config.resetTokenDelivery).toBe('email');
    expect(config.mail.smtpUrl).toBe(SMTP_URL);
  });
});

describe('RESET_TOKEN_DELIVERY=email without SMTP_URL', () => {
  it.each(['development', 'test', 'production'])(
    'is refused with NODE_ENV=%s, naming SMTP_URL',
    (nodeEnv) => {
      expect(
        configErrorFrom({ NODE_ENV: nodeEnv, RESET_TOKEN_DELIVERY: 'email', RESET_URL_TEMPLATE }).problems,
      ).toEqual([SMTP_URL_REQUIRED]);
    },
  );
});

describe('mail variables', () => {
  it('refuses a RESET_TOKEN_DELIVERY other than response or email', () => {
    expect(namedVariables(configErrorFrom({ RESET_TOKEN_DELIVERY: 'sms' }))).toEqual([
      'RESET_TOKEN_DELIVERY',
    ]);
  });

  it.each(['http://mail.example.com', 'mail.example.com:25'])(
    'refuses SMTP_URL=%s: only smtp:// and smtps:// URLs',
    (url) => {
      expect(configErrorFrom({ SMTP_URL: url }).problems).toEqual([
        'SMTP_URL: must be an smtp:// or smtps:// URL with a host',
      ]);
    },
  );

  // "smtp://" passes the prefix check and URL.canParse (which allows an empty host); without a host nodemailer
  // would quietly fall back to localhost, so it is refused.
  it('refuses SMTP_URL=smtp:// (no host)', () => {
    expect(configErrorFrom({ SMTP_URL: 'smtp://' }).problems).toEqual([
      'SMTP_URL: must be an smtp:// or smtps:// URL with a host',
    ]);
  });

  it('accepts smtps:// with credentials, and reads MAIL_FROM and RESET_URL_TEMPLATE', () => {
    const config = loadConfig({
      ...PRODUCTION,
      SMTP_URL: 'smtps://user:secret@mail.example.com:465',
      MAIL_FROM: 'Auth <auth@example.com>',
      RESET_URL_TEMPLATE: 'https://app.example.com/reset#{token}',
    });
    expect(config.mail).toEqual({
      smtpUrl: 'smtps://user:secret@mail.example.com:465',
      from: 'Auth <auth@example.com>',
      resetUrlTemplate: 'https://app.example.com/reset#{token}',
      retryMinSeconds: 5,
      retryMaxSeconds: 300,
      failedRetentionDays: 30,
    });
  });

  it('refuses a RESET_URL_TEMPLATE without {token}', () => {
    expect(
      configErrorFrom({ ...PRODUCTION, RESET_URL_TEMPLATE: 'https://app.example.com/reset?email={email}' })
        .problems,
    ).toEqual(['RESET_URL_TEMPLATE: must contain {token}']);
  });
});
