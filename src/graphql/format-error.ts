// Shapes every GraphQL error for clients: catalogue codes pass, GraphQL's own client errors pass, the rest is hidden.
import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { AuthError } from '../errors';
import { publicError } from '../operations';

/** Codes Apollo Server itself gives to errors the client caused; their messages are safe to show. */
const CLIENT_ERROR_CODES: ReadonlySet<string> = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
]);

/**
 * Who an error is down to:
 * - `expected`: a catalogue AuthError the client may see (wrong password, taken email, ...);
 * - `client`: GraphQL refused the request itself (parse, validation, variables, unknown operation, an
 *   operation type we do not serve); nothing of ours ran, so there is nothing to log;
 * - `internal`: anything else, a bug or a fault: hidden from the client, logged for the operator. An unreachable
 *   database is a fault too (logged, so the operator sees the outage), though formatError tells the client
 *   SERVICE_UNAVAILABLE rather than INTERNAL_SERVER_ERROR, since retrying later will work.
 */
export type ErrorKind = 'expected' | 'client' | 'internal';

/** Classifies an error as Apollo hands it to formatError and to plugins. */
export function classifyError(error: unknown): ErrorKind {
  const original = unwrapResolverError(error);
  if (original instanceof AuthError) return original.exposed ? 'expected' : 'internal';
  if (!(error instanceof GraphQLError)) return 'internal';
  const code = error.extensions.code;
  if (typeof code === 'string') return CLIENT_ERROR_CODES.has(code) ? 'client' : 'internal';
  // graphql-js's own request-level refusals (e.g. a subscription on a schema without subscriptions) carry no
  // code; they never have a path, unlike anything a resolver throws.
  return original instanceof GraphQLError && error.path === undefined ? 'client' : 'internal';
}

/**
 * graphql-js quotes the offending value in coercion errors ('Variable "$password" got invalid value 12345678;
 * ...: 12345678'). That value may be a password, so it is cut out; the variable name and the reason stay.
 */
function withoutEchoedValues(message: string): string {
  return message
    .replace(/^(Variable "\$[^"]*") got invalid value [\s\S]*?; /, '$1 got an invalid value; ')
    .replace(/(cannot represent [^:]*): [\s\S]*$/, '$1');
}

/** The start of Apollo's refusal of introspection, whose advice names its constructor option, not our variable. */
const APOLLO_NO_INTROSPECTION = 'GraphQL introspection is not allowed by Apollo Server';

/** What a client is told instead: the switch an operator of this service actually has. */
export const INTROSPECTION_OFF =
  'GraphQL introspection is off on this server (the query contained __schema or __type); ' +
  'its operator can turn it on with GRAPHQL_INTROSPECTION=true';

/**
 * Apollo's `formatError`. Expected failures keep their catalogue code; client errors keep Apollo's code (or
 * BAD_REQUEST when graphql-js gave none) with any echoed value cut out; an unreachable database becomes
 * SERVICE_UNAVAILABLE; RATE_LIMITED, SERVICE_BUSY and SERVICE_UNAVAILABLE add `retryAfterSeconds`, the REST
 * shim's Retry-After; anything else becomes INTERNAL_SERVER_ERROR with no message details and no stack.
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const where = {
    ...(formatted.locations === undefined ? {} : { locations: formatted.locations }),
    ...(formatted.path === undefined ? {} : { path: formatted.path }),
  };
  const kind = classifyError(error);
  if (kind === 'client') {
    const code = formatted.extensions?.code;
    const clientCode = typeof code === 'string' && CLIENT_ERROR_CODES.has(code) ? code : 'BAD_REQUEST';
    const message = formatted.message.startsWith(APOLLO_NO_INTROSPECTION)
      ? INTROSPECTION_OFF
      : withoutEchoedValues(formatted.message);
    return { message, ...where, extensions: { code: clientCode } };
  }
  // publicError hides whatever it does not recognise, so internal errors go through it too: it is what tells an
  // unreachable database (SERVICE_UNAVAILABLE) from a bug (INTERNAL_SERVER_ERROR), for REST and GraphQL alike.
  const answer = publicError(unwrapResolverError(error));
  const retry = answer.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: answer.retryAfterSeconds };
  return { message: answer.message, ...where, extensions: { code: answer.code, ...retry } };
}
