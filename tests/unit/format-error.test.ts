// formatError: catalogue and client errors keep their code, everything else is hidden as INTERNAL_SERVER_ERROR.
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { AuthError } from '../../src/errors';
import { classifyError, formatError } from '../../src/graphql/format-error';

const INTERNAL = { message: 'internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } };

/** A resolver error as graphql-js hands it to Apollo: wrapped in a GraphQLError with a path. */
function thrownInResolver(error: Error, path: string[] = ['login']): GraphQLError {
  return new GraphQLError(error.message, { originalError: error, path });
}

/** What Apollo passes as the first argument: the formatted error, here with a stack trace as in development. */
function formattedByApollo(error: GraphQLError, code: string): GraphQLFormattedError {
  return {
    ...error.toJSON(),
    extensions: { code, stacktrace: (error.originalError?.stack ?? '').split('\n') },
  };
}

describe('formatError', () => {
  it.each([
    ['INVALID_CREDENTIALS', new AuthError('INVALID_CREDENTIALS'), 'invalid email or password'],
    ['EMAIL_TAKEN', new AuthError('EMAIL_TAKEN'), 'email already registered'],
    [
      'BAD_USER_INPUT',
      new AuthError('BAD_USER_INPUT', 'password must be at least 8 bytes long'),
      'password must be at least 8 bytes long',
    ],
    ['INVALID_RESET_TOKEN', new AuthError('INVALID_RESET_TOKEN'), 'invalid or expired reset token'],
  ])('keeps the code and message of an AuthError %s', (code, authError, message) => {
    const error = thrownInResolver(authError);
    expect(formatError(formattedByApollo(error, 'INTERNAL_SERVER_ERROR'), error)).toEqual({
      message,
      path: ['login'],
      extensions: { code },
    });
    expect(classifyError(error)).toBe('expected');
  });

  it.each(['USER_NOT_FOUND', 'INVALID_QUERY', 'INTERNAL_SERVER_ERROR'] as const)(
    'hides an AuthError with the 5xx code %s as INTERNAL_SERVER_ERROR',
    (code) => {
      const error = thrownInResolver(new AuthError(code, `no user where email = 'someone@example.com'`));
      expect(formatError(formattedByApollo(error, code), error)).toEqual({ ...INTERNAL, path: ['login'] });
      expect(classifyError(error)).toBe('internal');
    },
  );

  it('hides a plain Error: no message details and no stack trace anywhere', () => {
    const secret = `SQLITE_CONSTRAINT: insert into users values ('a@example.com', '$2b$04$${'a'.repeat(53)}')`;
    const error = thrownInResolver(new Error(secret), ['register']);
    const formatted = formatError(formattedByApollo(error, 'INTERNAL_SERVER_ERROR'), error);
    expect(formatted).toEqual({ ...INTERNAL, path: ['register'] });
    expect(JSON.stringify(formatted)).not.toContain('stacktrace');
    expect(JSON.stringify(formatted)).not.toContain('$2b$');
    expect(classifyError(error)).toBe('internal');
  });

  it('hides a plain Error that reached Apollo unwrapped', () => {
    const error = new Error('connection refused to /var/lib/auth.sqlite');
    const formatted = formatError(
      { message: error.message, extensions: { code: 'INTERNAL_SERVER_ERROR' } },
      error,
    );
    expect(formatted).toEqual(INTERNAL);
  });

  it('hides an error whose code is not one it knows, however the formatted error calls it', () => {
    const error = new GraphQLError('debug: user row 7 hash $2b$04$...', {
      extensions: { code: 'SOMETHING_NEW' },
    });
    expect(formatError(error.toJSON(), error)).toEqual(INTERNAL);
    expect(classifyError(error)).toBe('internal');
  });

  it('hides a code-less GraphQLError that has a path, as a resolver-thrown one has, as INTERNAL_SERVER_ERROR', () => {
    const error = new GraphQLError('row 7 hash $2b$04$...', { path: ['login'] });
    expect(classifyError(error)).toBe('internal');
    expect(formatError(formattedByApollo(error, 'INTERNAL_SERVER_ERROR'), error)).toEqual({
      ...INTERNAL,
      path: ['login'],
    });
  });

  it('answers BAD_REQUEST for a code-less refusal from graphql-js itself, keeping its message', () => {
    const message = 'Schema is not configured to execute subscription operation.';
    const error = new GraphQLError(message, { nodes: [] });
    const formatted = formatError(
      { message, locations: [{ line: 1, column: 1 }], extensions: { code: 'INTERNAL_SERVER_ERROR' } },
      error,
    );
    expect(formatted).toEqual({
      message,
      locations: [{ line: 1, column: 1 }],
      extensions: { code: 'BAD_REQUEST' },
    });
    expect(classifyError(error)).toBe('client');
  });

  it('passes a validation failure with its message and location', () => {
    const message = 'Cannot query field "hashedPassword" on type "User".';
    const formatted: GraphQLFormattedError = {
      message,
      locations: [{ line: 1, column: 20 }],
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED', stacktrace: ['GraphQLError: ...'] },
    };
    expect(formatError(formatted, new GraphQLError(message))).toEqual({
      message,
      locations: [{ line: 1, column: 20 }],
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    });
  });

  it('cuts the echoed value out of a variable coercion error', () => {
    const message =
      'Variable "$password" got invalid value 12345678; String cannot represent a non string value: 12345678';
    const formatted: GraphQLFormattedError = {
      message,
      locations: [{ line: 1, column: 16 }],
      extensions: { code: 'BAD_USER_INPUT' },
    };
    const result = formatError(formatted, new GraphQLError(message));
    expect(result).toEqual({
      message: 'Variable "$password" got an invalid value; String cannot represent a non string value',
      locations: [{ line: 1, column: 16 }],
      extensions: { code: 'BAD_USER_INPUT' },
    });
    expect(JSON.stringify(result)).not.toContain('12345678');
  });

  it('cuts the echoed value out of an inline literal that cannot be coerced', () => {
    const message = 'String cannot represent a non string value: 12345678';
    const result = formatError(
      { message, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } },
      new GraphQLError(message),
    );
    expect(result).toEqual({
      message: 'String cannot represent a non string value',
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    });
  });
});
