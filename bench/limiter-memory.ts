// How much memory the in-process rate limits keep after a burst of logins for distinct emails (SQLite mode).
//
//   node --expose-gc -r ts-node/register/transpile-only bench/limiter-memory.ts [attempts]
//
// Builds the real app on in-memory SQLite with the limits on (a per-client budget roomy enough that every attempt
// reaches the per-account counters, as a botnet or an IPv6 /56 would), sends `attempts` failed logins, each for a
// different plausible email, through app.inject, and prints the heap after a full collection: before, right after,
// and after the limiter's sweep has had its chance. It uses only createApp, loadConfig and inject, so the same
// file measures an older checkout too (see bench/README.md).
import 'reflect-metadata';
import { createApp } from '../src/app';
import { loadConfig } from '../src/config';

const MB = 1024 * 1024;

/** The heap in use after a full collection, in MB. */
function heapMb(): number {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect === undefined) throw new Error('run node with --expose-gc');
  collect();
  collect();
  return process.memoryUsage().heapUsed / MB;
}

async function main(): Promise<void> {
  const attempts = Number(process.argv[2] ?? 10_000);
  const config = loadConfig({
    DATABASE_URL: ':memory:',
    NODE_ENV: 'test',
    BCRYPT_ROUNDS: '4',
    LOG_LEVEL: 'silent',
    // RATE_LIMIT=off shows what the rest of the app keeps; RATE_LIMIT_MEMORY_MAX_KEYS the effect of the cap.
    RATE_LIMIT: process.env.RATE_LIMIT ?? 'on',
    ...(process.env.RATE_LIMIT_MEMORY_MAX_KEYS === undefined
      ? {}
      : { RATE_LIMIT_MEMORY_MAX_KEYS: process.env.RATE_LIMIT_MEMORY_MAX_KEYS }),
    RATE_LIMIT_LOGIN_PER_IP: '999999/1m',
    BCRYPT_MAX_CONCURRENCY: '2',
    BCRYPT_MAX_QUEUE: '1000',
    PLAYGROUND: 'false',
  });
  const app = await createApp(config);
  const before = heapMb();
  const rssBefore = process.memoryUsage().rss / MB;
  for (let i = 0; i < attempts; i += 1) {
    await app.server.inject({
      method: 'POST',
      url: '/sessions',
      payload: { email: `burst-${i}@example.com`, password: 'wrong password 1' },
    });
  }
  const after = heapMb();
  const rssAfter = process.memoryUsage().rss / MB;
  // The limiter sweeps ended windows once a minute; the failure counters' window is a day, so they stay, bounded.
  await new Promise((resolve) => setTimeout(resolve, 61_000));
  const later = heapMb();
  process.stdout.write(
    `${JSON.stringify({
      attempts,
      heapBeforeMb: Number(before.toFixed(1)),
      heapAfterMb: Number(after.toFixed(1)),
      heapRetainedPerAttemptBytes: Math.round(((after - before) * MB) / attempts),
      heapAfterSweepMb: Number(later.toFixed(1)),
      rssBeforeMb: Math.round(rssBefore),
      rssAfterMb: Math.round(rssAfter),
    })}\n`,
  );
  await app.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
