// Shapes every GraphQL error for clients: catalogue codes pass, GraphQL's own client errors pass, the rest is hidden.
import { unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLFormattedError } from 'graphql';
import { AuthError, publicError } from '../errors';

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
 * graphql-js quotes the offending value in coercion errors ('Variable "$password" got invalid value 12345678;
 * ...: 12345678'). That value may be a password, so it is cut out; the variable name and the reason stay.
 */
function withoutEchoedValues(message: string): string {
  return message
    .replace(/^(Variable "\$[^"]*") got invalid value [\s\S]*?; /, '$1 got an invalid value; ')
    .replace(/(cannot represent [^:]*): [\s\S]*$/, '$1');
}

/** True when an error is one whose code and message we show as they are. */
export function isExpectedError(error: unknown): boolean {
  const original = unwrapResolverError(error);
  return original instanceof AuthError && original.exposed;
}

/**
 * Apollo's `formatError`. Expected failures keep their catalogue code; Apollo's client-error codes keep theirs;
 * anything else (a bug, a database fault) becomes INTERNAL_SERVER_ERROR with no message details and no stack.
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const where = {
    ...(formatted.locations === undefined ? {} : { locations: formatted.locations }),
    ...(formatted.path === undefined ? {} : { path: formatted.path }),
  };
  const original = unwrapResolverError(error);
  if (original instanceof AuthError) {
    const answer = publicError(original);
    return { message: answer.message, ...where, extensions: { code: answer.code } };
  }
  const code = formatted.extensions?.code;
  if (typeof code === 'string' && CLIENT_ERROR_CODES.has(code)) {
    return { message: withoutEchoedValues(formatted.message), ...where, extensions: { code } };
  }
  const answer = publicError(original);
  return { message: answer.message, ...where, extensions: { code: answer.code } };
}
