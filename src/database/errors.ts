// Recognises "the database cannot be reached right now" among thrown errors: the one place that decides a 503.
import { ConnectionException } from '@mikro-orm/core';

/**
 * `code` values that mean the database could not be reached or dropped us. MikroORM's DriverException copies the
 * driver error's own properties, `code` included, so the same codes are found on wrapped and raw errors alike.
 * Only codes that say nothing about the statement itself are here: a constraint or syntax error is a bug (500).
 */
const UNAVAILABLE_CODES: ReadonlySet<string> = new Set([
  // Node sockets (pg): nothing listens on the port (server down, restarting, proxy gone).
  'ECONNREFUSED',
  // The server or something on the way closed the connection mid-conversation (failover, proxy, idle cut).
  'ECONNRESET',
  // We wrote to a connection the other end had already closed.
  'EPIPE',
  // The TCP connect or a write got no answer at all before the OS gave up (host down, packets dropped).
  'ETIMEDOUT',
  // No route to the database host: a network outage, not a fault of the statement.
  'EHOSTUNREACH',
  'ENETUNREACH',
  // The database's host name could not be resolved for now (DNS outage); a retry may succeed.
  'EAI_AGAIN',
  // PostgreSQL 57P01 admin_shutdown: "terminating connection due to administrator command" (restart, failover).
  '57P01',
  // PostgreSQL 57P02 crash_shutdown: another backend crashed and the server is resetting every connection.
  '57P02',
  // PostgreSQL 57P03 cannot_connect_now: the server is starting up, shutting down or in recovery.
  '57P03',
  // PostgreSQL 53300 too_many_connections: the server is full; a slot frees up soon.
  '53300',
  // SQLite: another process held the write lock for longer than busy_timeout (see src/database/orm.ts).
  'SQLITE_BUSY',
  // SQLite: the database file cannot be opened (removed, unmounted, permissions changed under us).
  'SQLITE_CANTOPEN',
  // SQLite: the disk (or quota) is full. Nothing was written; the same request succeeds once space is freed.
  'SQLITE_FULL',
  // SQLite: the file, its directory or the filesystem became read-only (a remount after disk errors, say).
  'SQLITE_READONLY',
  // SQLite: the operating system failed a read or write (a failing disk, a vanished mount).
  'SQLITE_IOERR',
]);

/** PostgreSQL's SQLSTATE class 08, "connection exception" (08001 cannot connect, 08006 connection failure, ...). */
const POSTGRES_CONNECTION_EXCEPTION_CLASS = '08';

/**
 * Messages of connection failures that carry no `code`. pg raises these as plain Errors, so the message is the
 * only sign; each is matched whole (knex may put the failed statement in front, see below), so that no other
 * error that merely mentions a connection qualifies.
 */
const UNAVAILABLE_MESSAGES: readonly string[] = [
  // pg: the socket closed while connecting or while a query was in flight (server killed, proxy cut).
  'Connection terminated unexpectedly',
  // pg: connectionTimeoutMillis ran out before the server answered the connection.
  'timeout expired',
  // pg: a query on a client whose connection had already failed.
  'Client has encountered a connection error and is not queryable',
  // pg: query_timeout ran out with no answer from the server (only when that option is set): a silent connection.
  'Query read timeout',
];

/**
 * Message starts of connection failures that carry no code and a variable tail. knex: the connection of a
 * transaction died under it (pg_terminate_backend, a failover) and the transaction's next query found it ended;
 * the transaction was rolled back by the server, so nothing is half-written.
 */
const UNAVAILABLE_MESSAGE_STARTS: readonly string[] = ['Transaction query already complete'];

/** knex prefixes a failed query's error message with the statement: `<sql> - <driver's message>`. */
const KNEX_STATEMENT_SEPARATOR = ' - ';

/**
 * knex's pool found no connection in time: every connection attempt is failing or hanging, or the pool is
 * exhausted. Either way the database cannot serve this request now. (knex's error class is not exported for
 * instanceof, and MikroORM re-wraps it as a DriverException, keeping only the message.)
 */
const KNEX_ACQUIRE_TIMEOUT_PREFIX = 'Knex: Timeout acquiring a connection';

/** Causes and aggregated errors are followed this deep at most: enough for any real wrapping, and no cycles. */
const MAX_DEPTH = 4;

/**
 * Whether a thrown value means the database is unreachable or unavailable for now (connection refused, reset or
 * timed out, pool acquire timeout, PostgreSQL shutting down or refusing connections, SQLite busy or unopenable),
 * as opposed to a bug in a statement. These are answered 503 SERVICE_UNAVAILABLE with Retry-After, since the
 * client did nothing wrong and the same request will succeed once the database is back.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  return unavailable(error, 0);
}

/**
 * Reads the error structurally rather than with `instanceof Error`: errors made by Node itself (a refused socket)
 * can come from another realm than the code checking them (jest's sandbox, for one), and would not qualify.
 */
function unavailable(error: unknown, depth: number): boolean {
  if (typeof error !== 'object' || error === null || depth > MAX_DEPTH) return false;
  // MikroORM's own verdict (SQLite "unable to open database file", MySQL connection errors).
  if (error instanceof ConnectionException) return true;
  const { name, code, message, errors, cause } = error as Partial<Record<string, unknown>>;
  if (typeof code === 'string') {
    if (UNAVAILABLE_CODES.has(code)) return true;
    if (/^[0-9A-Z]{5}$/.test(code) && code.startsWith(POSTGRES_CONNECTION_EXCEPTION_CLASS)) return true;
  }
  if (typeof message === 'string') {
    if (message.startsWith(KNEX_ACQUIRE_TIMEOUT_PREFIX)) return true;
    const endsWithKnown = (known: string): boolean =>
      message === known || message.endsWith(`${KNEX_STATEMENT_SEPARATOR}${known}`);
    if (UNAVAILABLE_MESSAGES.some(endsWithKnown)) return true;
    if (UNAVAILABLE_MESSAGE_STARTS.some((start) => message.startsWith(start))) return true;
  }
  // Node reports a connect to a host with several addresses (IPv6 and IPv4) that all failed as one AggregateError.
  if (name === 'AggregateError' && Array.isArray(errors) && errors.length > 0) {
    return errors.every((inner) => unavailable(inner, depth + 1));
  }
  // graphql-js replaces a thrown value that is not `instanceof Error` (such as a socket error from another realm)
  // by a NonErrorThrown, and keeps the original as `thrownValue`.
  if (name === 'NonErrorThrown')
    return unavailable((error as { thrownValue?: unknown }).thrownValue, depth + 1);
  return unavailable(cause, depth + 1);
}
