// What a real socket sees for requests Node or Fastify refuse before any route runs: the same JSON shape, no echo.
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createTestApp, type TestApp } from '../helpers/test-app';

let app: TestApp;
let port: number;
beforeAll(async () => {
  app = await createTestApp();
  await app.server.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.server.address() as AddressInfo).port;
});
afterAll(async () => {
  await app.close();
});

/** Node's default limit on the size of all request headers together. */
const NODE_MAX_HEADER_BYTES = 16 * 1024;

/** How long the server may take to close the connection; it answers in milliseconds. */
const CLOSE_TIMEOUT_MS = 5_000;

/**
 * Sends raw bytes and returns everything the server writes before it closes the connection. The client never
 * half-closes, so the answer only settles when the server itself ends the connection (after a request with
 * Connection: close, or after refusing one); a connection still open after CLOSE_TIMEOUT_MS fails the test.
 */
function rawRequest(bytes: string): Promise<{ statusLine: string; headers: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    let text = '';
    const timer = setTimeout(() => {
      reject(new Error(`the server kept the connection open after writing: ${JSON.stringify(text)}`));
      socket.destroy();
    }, CLOSE_TIMEOUT_MS);
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      const [head, body = ''] = text.split('\r\n\r\n');
      const [statusLine, ...headers] = head.split('\r\n');
      resolve({ statusLine, headers: headers.join('\n').toLowerCase(), body });
    });
  });
}

it('answers 400 {"message":"malformed URL"} to a URL that does not decode, without echoing it', async () => {
  const answer = await rawRequest(
    'GET /%?password=hunter2-secret HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  );
  expect(answer.statusLine).toBe('HTTP/1.1 400 Bad Request');
  expect(answer.headers).toContain('content-type: application/json; charset=utf-8');
  expect(answer.body).toBe('{"message":"malformed URL"}');
});

it('answers 431 {"message":"request headers too large"} to oversized headers', async () => {
  const answer = await rawRequest(
    `GET / HTTP/1.1\r\nHost: x\r\nCookie: session_id=${'a'.repeat(NODE_MAX_HEADER_BYTES)}\r\n\r\n`,
  );
  expect(answer.statusLine).toBe('HTTP/1.1 431 Request Header Fields Too Large');
  expect(answer.body).toBe('{"message":"request headers too large"}');
});

it('answers 400 {"message":"malformed HTTP request"} to bytes that are not HTTP', async () => {
  const answer = await rawRequest('HELLO THERE\r\n\r\n');
  expect(answer.statusLine).toBe('HTTP/1.1 400 Bad Request');
  expect(answer.body).toBe('{"message":"malformed HTTP request"}');
});

it('keeps serving after all of them', async () => {
  const answer = await rawRequest('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  expect(answer.statusLine).toBe('HTTP/1.1 200 OK');
  expect(answer.body).toBe('{"message":"Bienvenue"}');
});

it('answers 403 to a large but legal cookie that is not a session', async () => {
  const answer = await rawRequest(
    `GET /profile HTTP/1.1\r\nHost: x\r\nCookie: session_id=${'b'.repeat(8 * 1024)}\r\nConnection: close\r\n\r\n`,
  );
  expect(answer.statusLine).toBe('HTTP/1.1 403 Forbidden');
  expect(answer.body).toBe('{"message":"no valid session"}');
});

describe('the Host header (RFC 9112 §3.2: exactly one)', () => {
  it('answers 400 {"message":"duplicate Host header"} to two different Host lines', async () => {
    const answer = await rawRequest(
      'GET / HTTP/1.1\r\nHost: x\r\nHost: elsewhere.example\r\nConnection: close\r\n\r\n',
    );
    expect(answer.statusLine).toBe('HTTP/1.1 400 Bad Request');
    expect(answer.headers).toContain('content-type: application/json; charset=utf-8');
    expect(answer.body).toBe('{"message":"duplicate Host header"}');
  });

  it('answers 400 to two identical Host lines, in any case: the RFC counts lines, not values', async () => {
    const answer = await rawRequest(
      'GET /profile HTTP/1.1\r\nHost: x\r\nhOST: x\r\nConnection: close\r\n\r\n',
    );
    expect(answer.statusLine).toBe('HTTP/1.1 400 Bad Request');
    expect(answer.body).toBe('{"message":"duplicate Host header"}');
  });

  it('serves a request with one Host line', async () => {
    const answer = await rawRequest('GET / HTTP/1.1\r\nHOST: x\r\nConnection: close\r\n\r\n');
    expect(answer.statusLine).toBe('HTTP/1.1 200 OK');
    expect(answer.body).toBe('{"message":"Bienvenue"}');
  });

  it('lets Node answer 400 to an HTTP/1.1 request without a Host line', async () => {
    // Node refuses it before Fastify sees it, so the answer is Node's own (no JSON body).
    const answer = await rawRequest('GET / HTTP/1.1\r\nConnection: close\r\n\r\n');
    expect(answer.statusLine).toBe('HTTP/1.1 400 Bad Request');
  });
});

it('refuses a cross-site POST before reading its body and still serves the request behind it', async () => {
  const body = 'email=csrf%40example.com&password=correct+horse+battery';
  const answer = await rawRequest(
    `POST /users HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\n` +
      `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body}` +
      'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  );
  expect(answer.statusLine).toBe('HTTP/1.1 403 Forbidden');
  // rawRequest cuts the text at its second blank line: the refusal's body, then the next answer's head. The
  // unread body was skipped, not taken for the start of a request.
  expect(answer.body).toMatch(/^\{"message":"cross-site request refused"\}HTTP\/1\.1 200 OK\r\n/);
});
