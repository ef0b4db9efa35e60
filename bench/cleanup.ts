// How fast the clean-up removes expired sessions on a SQLite file, and how long a profile read waits meanwhile.
//
//   node -r ts-node/register/transpile-only bench/cleanup.ts [rows]
//
// Builds the real app on a fresh SQLite file, inserts `rows` expired sessions (one account) in one statement,
// then runs one clean-up pass while a signed-in client reads GET /profile every 10 ms through app.inject. Prints
// rows removed, seconds, rows a second, and the reads' median and worst latency during the pass.
import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../src/app';
import { loadConfig } from '../src/config';

/** The p-th percentile of sorted numbers. */
function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function main(): Promise<void> {
  const rows = Number(process.argv[2] ?? 500_000);
  const directory = mkdtempSync(join(tmpdir(), 'auth-bench-cleanup-'));
  const app = await createApp(
    loadConfig({
      DATABASE_URL: join(directory, 'auth.sqlite'),
      NODE_ENV: 'test',
      BCRYPT_ROUNDS: '4',
      LOG_LEVEL: 'silent',
      RATE_LIMIT: 'off',
      PLAYGROUND: 'false',
    }),
  );
  try {
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const body = 'email=cleanup%40example.com&password=mySecurePassword';
    await app.server.inject({ method: 'POST', url: '/users', headers: form, payload: body });
    const login = await app.server.inject({ method: 'POST', url: '/sessions', headers: form, payload: body });
    const cookie = String(login.headers['set-cookie']).split(';')[0] ?? '';
    const past = Date.now() - 60_000;
    await app.orm.em.getConnection().execute(
      `with recursive n(i) as (select 1 union all select i + 1 from n where i < ?)
       insert into sessions (user_id, public_id, token_hash, created_at, expires_at, last_seen_at)
       select 1, 'bench-' || i, 'bench-hash-' || i, ?, ?, ? from n`,
      [rows, past, past, past],
    );
    const latencies: number[] = [];
    let done = false;
    const reading = (async () => {
      while (!done) {
        const started = performance.now();
        await app.server.inject({ method: 'GET', url: '/profile', headers: { cookie } });
        latencies.push(performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    const started = performance.now();
    const removed = await app.cleanup.runOnce();
    const seconds = (performance.now() - started) / 1000;
    done = true;
    await reading;
    const sorted = [...latencies].sort((a, b) => a - b);
    process.stdout.write(
      `${JSON.stringify({
        rows,
        removed: removed.sessions,
        seconds: Number(seconds.toFixed(1)),
        rowsPerSecond: Math.round(removed.sessions / seconds),
        profileReads: sorted.length,
        profileP50Ms: Number(percentile(sorted, 50).toFixed(1)),
        profileMaxMs: Number((sorted.at(-1) ?? 0).toFixed(1)),
      })}\n`,
    );
  } finally {
    await app.close();
    rmSync(directory, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
