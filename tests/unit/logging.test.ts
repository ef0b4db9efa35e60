// What reaches a log line (secrets scrubbed, no query string) and how lines reach standard output (batched per turn).
import bcrypt from 'bcrypt';
import { generateToken, hashToken } from '../../src/shared';
import {
  BatchedLineWriter,
  errorForLog,
  scrubSecrets,
  serializeReply,
  serializeRequest,
} from '../../src/http/logging';

// The cheapest cost bcrypt allows: the test needs the shape of a hash, not its strength.
const BCRYPT_TEST_ROUNDS = 4;
const bcryptHash = bcrypt.hashSync('x', BCRYPT_TEST_ROUNDS);
const token = generateToken();
const tokenHash = hashToken(token);

describe('scrubSecrets', () => {
  it.each([
    ['a bcrypt hash', `stored hash ${bcryptHash} for user 7`, 'stored hash [redacted] for user 7'],
    ['a 43-character token', `session ${token} not found`, 'session [redacted] not found'],
    ['a token inside a cookie pair', `cookie: session_id=${token}`, 'cookie: session_id=[redacted]'],
    ['a SHA-256 hex digest', `token_hash = ${tokenHash}`, 'token_hash = [redacted]'],
    [
      'single-quoted SQL literals',
      "insert into `users` (`email`) values ('someone@example.com', 'it''s')",
      'insert into `users` (`email`) values ([redacted], [redacted])',
    ],
    [
      'a quoted bcrypt hash in SQL',
      `update users set hashed_password = '${bcryptHash}' where id = 1`,
      'update users set hashed_password = [redacted] where id = 1',
    ],
  ])('replaces %s', (_case, text, expected) => {
    expect(scrubSecrets(text)).toBe(expected);
  });

  it.each([
    'request completed in 12 ms',
    'GET /profile answered 403',
    'SQLITE_CONSTRAINT: UNIQUE constraint failed: users.email',
    'short-ids like abc123 and 2026-11-27T06:39:29Z stay',
  ])('leaves ordinary text alone: %j', (text) => {
    expect(scrubSecrets(text)).toBe(text);
  });
});

describe('errorForLog', () => {
  it('scrubs message and stack, keeps the name and a string code', () => {
    const error = Object.assign(new Error(`insert failed with token_hash = '${tokenHash}' and ${token}`), {
      code: 'SQLITE_CONSTRAINT',
    });
    error.name = 'UniqueConstraintViolationException';
    const logged = errorForLog(error);
    expect(logged).toEqual({
      type: 'UniqueConstraintViolationException',
      code: 'SQLITE_CONSTRAINT',
      message: 'insert failed with token_hash = [redacted] and [redacted]',
      stack: expect.any(String) as unknown,
    });
    const serialised = JSON.stringify(logged);
    expect(serialised).not.toContain(token);
    expect(serialised).not.toContain(tokenHash);
    expect(logged.stack).toContain(
      'UniqueConstraintViolationException: insert failed with token_hash = [redacted]',
    );
  });

  it('drops a code that is not a string', () => {
    const error = Object.assign(new Error('disk I/O error'), { code: 10 });
    expect(errorForLog(error)).not.toHaveProperty('code');
    expect(errorForLog(error)).toMatchObject({ type: 'Error', message: 'disk I/O error' });
  });

  it('keeps an error without a stack loggable', () => {
    const error = new TypeError(`bad ${bcryptHash}`);
    error.stack = undefined;
    expect(errorForLog(error)).toEqual({ type: 'TypeError', message: 'bad [redacted]', stack: undefined });
  });

  it.each([
    ['a string', `secret ${token}`, 'string'],
    ['undefined', undefined, 'undefined'],
    ['null', null, 'object'],
    ['a number', 42, 'number'],
    ['a plain object', { message: token }, 'object'],
  ])('logs only the type of %s', (_case, value, type) => {
    expect(errorForLog(value)).toEqual({ type });
  });
});

describe('serializeRequest', () => {
  it('drops the query string, where GET /graphql carries variables', () => {
    const request = {
      method: 'GET',
      url: '/graphql?query=mutation%7Blogin%7D&variables=%7B%22password%22%3A%22hunter22%22%7D',
      ip: '127.0.0.1',
    };
    expect(serializeRequest(request)).toEqual({ method: 'GET', url: '/graphql', remoteAddress: '127.0.0.1' });
  });

  it('keeps a path without a query string as it is', () => {
    expect(serializeRequest({ method: 'POST', url: '/sessions', ip: '::1' })).toEqual({
      method: 'POST',
      url: '/sessions',
      remoteAddress: '::1',
    });
  });
});

describe('serializeReply', () => {
  it('logs the status code only', () => {
    expect(serializeReply({ statusCode: 302 })).toEqual({ statusCode: 302 });
  });
});

describe('BatchedLineWriter', () => {
  /** Resolves after the current turn of the event loop, when a batch scheduled in it has been written. */
  const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

  it('writes the lines of one turn of the event loop with one write, in order', async () => {
    const writes: string[] = [];
    const writer = new BatchedLineWriter((text) => void writes.push(text));
    writer.write('{"n":1}\n');
    writer.write('{"n":2}\n');
    expect(writes).toEqual([]);
    await nextTurn();
    expect(writes).toEqual(['{"n":1}\n{"n":2}\n']);
    writer.write('{"n":3}\n');
    await nextTurn();
    expect(writes).toEqual(['{"n":1}\n{"n":2}\n', '{"n":3}\n']);
    writer.close();
  });

  it("writes what is pending on flush (pino's logger.flush) and calls back", () => {
    const writes: string[] = [];
    const writer = new BatchedLineWriter((text) => void writes.push(text));
    writer.write('a\n');
    const done = jest.fn();
    writer.flush(done);
    expect(writes).toEqual(['a\n']);
    expect(done).toHaveBeenCalledTimes(1);
    writer.close();
  });

  it('flushes when closed, then writes each later line at once (nothing may wait for a turn that never comes)', () => {
    const writes: string[] = [];
    const writer = new BatchedLineWriter((text) => void writes.push(text));
    writer.write('before\n');
    writer.close();
    expect(writes).toEqual(['before\n']);
    writer.write('after\n');
    expect(writes).toEqual(['before\n', 'after\n']);
  });

  it('flushes on process exit until closed', () => {
    const before = process.listenerCount('exit');
    const writer = new BatchedLineWriter(() => undefined);
    expect(process.listenerCount('exit')).toBe(before + 1);
    writer.close();
    expect(process.listenerCount('exit')).toBe(before);
  });
});
