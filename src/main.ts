// The process entry point: load config, build the app, listen, and shut down gracefully on SIGTERM/SIGINT.
import 'reflect-metadata';
import { createApp } from './app';
import { ConfigError, loadConfig, type Config } from './config';
import { errorForLog } from './http/logging';

/** How long in-flight requests get to finish after a stop signal before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 10_000;

function readConfig(): Config {
  try {
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
