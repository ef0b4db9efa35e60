// The Fastify instance as we run it: timeouts, proxies, request ids, the log format, and closing without cutting answers off.
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Config } from '../config';
import { answerClientError, answerFrameworkError } from './error-handler';
import {
  BatchedLineWriter,
  OneLinePerRequest,
  REDACTED_PATHS,
  serializeReply,
  serializeRequest,
} from './logging';

/**
 * How often Node checks connections against the request timeout. Its default (30 s) would let a 10 s timeout
 * fire anywhere between 10 and 40 s; a check a second is cheap (a walk over open connections).
 */
const TIMEOUT_CHECK_INTERVAL_MS = 1000;

/** How often a closing server looks for keep-alive connections that have just gone idle. */
const IDLE_SWEEP_INTERVAL_MS = 100;

/** Where log lines go: anything with `write(line)`. */
export interface LogDestination {
  write(line: string): void;
}

/**
 * Readable log lines (pino-pretty) when a developer watches the terminal: development mode with stdout a TTY.
 * Everywhere else, and when pino-pretty is not installed (it is a dev dependency: a production install lacks it),
 * null, and the logs stay one JSON object per line for whatever collects them.
 */
async function terminalLog(config: Config): Promise<LogDestination | null> {
  if (config.nodeEnv !== 'development' || !process.stdout.isTTY) return null;
  try {
    const { default: pretty } = await import('pino-pretty');
    // Synchronous, as the JSON writer's lines are on close: the last lines before an exit ("stopping ...") print.
    return pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', sync: true });
  } catch {
    return null;
  }
}

/**
 * The log destination: the caller's (tests read their lines), else readable lines on a developer's terminal, else
 * JSON lines on stdout, the lines of one event-loop turn written together (see BatchedLineWriter).
 */
export async function logDestination(config: Config, given?: LogDestination): Promise<LogDestination> {
  return given ?? (await terminalLog(config)) ?? new BatchedLineWriter();
}

/** The Fastify instance with our limits, logging and error answers for what happens before any route runs. */
export function createServer(config: Config, destination: LogDestination): FastifyInstance {
  const server = Fastify({
    logger: {
      level: config.logLevel,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      serializers: { req: serializeRequest, res: serializeReply },
      stream: destination,
    },
    logController: new OneLinePerRequest(),
    bodyLimit: config.bodyLimitBytes,
    requestTimeout: config.requestTimeoutSeconds * 1000,
    // No Fastify handlerTimeout: registerDeadline enforces HANDLER_TIMEOUT_SECONDS on every request (Fastify's
    // own timer stops at the end of the body), and a second timer, AbortController and listener per request
    // would only cost the hot path.
    // Both limits at once: Node keeps its 60 s headers timeout otherwise, and since that may not exceed the
    // request timeout it would swap them, leaving a body free to trickle in for a minute.
    http: {
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
      headersTimeout: config.requestTimeoutSeconds * 1000,
      requestTimeout: config.requestTimeoutSeconds * 1000,
    },
    // Without named proxies, X-Forwarded-For is ignored: any client could write it and pick its own address.
    trustProxy: config.trustProxy.length === 0 ? false : [...config.trustProxy],
    // Random ids are unique across restarts and instances (Fastify's default counter restarts at req-1), and
    // a client-sent id is never used, so nobody can plant a misleading id in our logs.
    genReqId: () => randomUUID(),
    frameworkErrors: answerFrameworkError,
    clientErrorHandler: answerClientError,
    // A request read after closing has started (one a client pipelined behind a running one) is still served
    // in full, with `Connection: close`: Fastify's default answers it a bare 503 in its own format, without our
    // headers or a Retry-After, for work that this instance can still do within its grace period.
    return503OnClosing: false,
  });
  return server;
}

/**
 * Closes the server: no new connections, in-flight requests finish, then the onClose hooks run. Fastify closes
 * the connections that are idle when close() starts, but a keep-alive connection whose request was still in
 * flight becomes idle only later and would hold the close open until its keep-alive timeout; sweeping idle
 * connections until the close completes ends each one as soon as its last response is sent.
 */
export async function closeGracefully(server: FastifyInstance): Promise<void> {
  const sweeper = setInterval(() => server.server.closeIdleConnections(), IDLE_SWEEP_INTERVAL_MS);
  try {
    await server.close();
  } finally {
    clearInterval(sweeper);
  }
}
