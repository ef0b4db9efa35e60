// The real app on a fresh in-memory SQLite database, with a cheap bcrypt cost, a movable clock and captured logs.
import { createApp, type App } from '../../src/app';
import type { Clock } from '../../src/shared';
import { loadConfig, type Config } from '../../src/config';
import { freshDatabase, testDatabaseUrl } from './postgres';

/** A clock that only moves when a test says so. */
export class ManualClock implements Clock {
  private currentMs: number;

  constructor(start: Date = new Date()) {
    this.currentMs = start.getTime();
  }

  now(): Date {
    return new Date(this.currentMs);
  }

  /** Moves time forward by this many seconds. */
  advanceSeconds(seconds: number): void {
    this.currentMs += seconds * 1000;
  }
}

/** A running test instance: the app plus its clock, config and every log line it wrote. */
export interface TestApp extends App {
  readonly clock: ManualClock;
  readonly config: Config;
  readonly logLines: string[];
}

/**
 * Builds the real app (all plugins, routes, migrations) on `:memory:` SQLite. `env` overrides any variable,
 * exactly as the process environment would. Close it in afterAll/afterEach.
 *
 * Rate limits are off unless `env` turns them on (RATE_LIMIT: 'on'): every test request comes from one address,
 * so suites about other behaviour would otherwise run into the registration and login budgets. The suites about
 * the limits turn them on.
 *
 * A production app sends reset tokens by email and will not start without SMTP_URL and an https reset link;
 * unless `env` says how to deliver them, it gets a mail server address nothing listens on (the discard port) and
 * an https link template, so suites about other production behaviour can start one. The suites about mail start a real SMTP server and name it.
 */
export async function createTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  // With TEST_DATABASE_URL, each app gets its own fresh PostgreSQL database, as `:memory:` gives each its own.
  const postgresUrl = env.DATABASE_URL === undefined ? testDatabaseUrl() : undefined;
  const postgres = postgresUrl === undefined ? undefined : await freshDatabase(postgresUrl);
  const config = loadConfig({
    DATABASE_URL: postgres?.url ?? ':memory:',
    BCRYPT_ROUNDS: '4',
    LOG_LEVEL: 'info',
    NODE_ENV: 'test',
    RATE_LIMIT: 'off',
    ...(env.NODE_ENV === 'production' && env.SMTP_URL === undefined && env.RESET_TOKEN_DELIVERY === undefined
      ? { SMTP_URL: 'smtp://127.0.0.1:9' }
      : {}),
    // Production wants an https reset page, and refuses RATE_LIMIT=off and a cost below 10 unless acknowledged;
    // the test defaults above are for suites about other behaviour, which say so here. The config suites test the
    // refusals themselves.
    ...(env.NODE_ENV === 'production'
      ? {
          RESET_URL_TEMPLATE: 'https://app.example.test/reset?email={email}&token={token}',
          ALLOW_WEAK_BCRYPT_ROUNDS: 'true',
        }
      : {}),
    ...(env.NODE_ENV === 'production' && env.RATE_LIMIT === undefined
      ? { ALLOW_RATE_LIMIT_OFF: 'true' }
      : {}),
    ...env,
  });
  const clock = new ManualClock();
  const logLines: string[] = [];
  const app = await createApp(config, { clock, logStream: { write: (line) => void logLines.push(line) } });
  if (postgres === undefined) return { ...app, clock, config, logLines };
  const close = async (): Promise<void> => {
    await app.close();
    await postgres.drop();
  };
  return { ...app, close, clock, config, logLines };
}
