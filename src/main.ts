// The process entry point: load config, build the app, listen, and shut down gracefully on SIGTERM/SIGINT.
import 'reflect-metadata';
import { createApp } from './app';
import { ConfigError, loadConfig, loadEnvFile, type Config } from './config';
import { errorForLog } from './http/logging';

/** How long in-flight requests get to finish after a stop signal before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 10_000;

/** libuv's default pool size: what fs, dns and SQLite get when no bcrypt is running. */
const LIBUV_DEFAULT_THREADS = 4;

/**
 * Sizes libuv's thread pool, unless the operator already set UV_THREADPOOL_SIZE. bcrypt, SQLite queries (the
 * sqlite3 driver runs each one on the pool), fs and dns all share that pool, which has 4 threads by default. The
 * bcrypt admission gate lets at most BCRYPT_MAX_CONCURRENCY hashes run; giving the pool that many threads plus the
 * default 4 means a burst of logins can never take the threads the profile read needs. More threads than that
 * would only let more hashes fight over the same cores. libuv reads the variable when the pool first starts, so
 * this must run before any pool work: it does, since nothing before it does asynchronous I/O.
 */
function sizeThreadPool(config: Config): void {
  process.env.UV_THREADPOOL_SIZE ??= String(config.bcryptMaxConcurrency + LIBUV_DEFAULT_THREADS);
}

function readConfig(): Config {
  try {
    // Before anything reads the environment: a .env beside the service is how the README's quick start configures it.
    loadEnvFile();
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      // The logger is configured from this very config, so a bad config can only be reported plainly.
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
}

async function main(): Promise<void> {
  const config = readConfig();
  sizeThreadPool(config);
  const app = await createApp(config);
  const { server } = app;

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    server.log.info({ signal }, 'stopping: finishing in-flight requests');
    const force = setTimeout(() => {
      server.log.error('in-flight requests did not finish in time; exiting');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    // close() stops accepting connections, lets in-flight requests finish, then stops Apollo and the database.
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        server.log.error({ error: errorForLog(error) }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  await server.listen({ port: config.port, host: config.host });
}

main().catch((error: unknown) => {
  console.error('failed to start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
