// HTTP hardening on the wire: security headers on every answer, CSP, CORS allow-list, request ids and timeouts.
import bcrypt from 'bcrypt';
import { connect, type AddressInfo } from 'node:net';
import type { LightMyRequestResponse } from 'fastify';
import { dropAccountTables } from '../helpers/faults';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { graphql, LOGIN, PROFILE } from '../helpers/graphql';
import { sendEmpty, sendForm, sendJson } from '../helpers/http';
import { PASSWORD, registeredUser, signedInUser, uniqueEmail } from '../helpers/factories';

/** The CSP of every API answer, as helmet writes it. */
const API_CSP = "default-src 'none';base-uri 'none';form-action 'none';frame-ancestors 'none'";

/** The CSP of the HTML playground page (GraphiQL, all from this origin), and of nothing else. */
const PLAYGROUND_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self' data:; " +
  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** The headers every answer of the API carries, whatever its status. */
const SECURITY_HEADERS = {
  'content-security-policy': API_CSP,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'cross-origin-resource-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
};

/** A random (version 4) UUID, as genReqId makes them. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Names of the CORS headers a response carries. */
function corsHeaders(response: LightMyRequestResponse): string[] {
  return Object.keys(response.headers).filter((name) => name.startsWith('access-control-'));
}

/** A JSON log line as far as these tests read it. */
interface LogLine {
  level: number;
  reqId?: string;
  msg: string;
  req?: { method: string; url: string };
  res?: { statusCode: number };
}

/** The parsed log lines of `app` that carry `reqId`. */
function linesOf(app: TestApp, reqId: string): LogLine[] {
  return app.logLines.map((line) => JSON.parse(line) as LogLine).filter((line) => line.reqId === reqId);
}

/** An app whose users and sessions tables are gone: every query fails as a fault would. */
async function brokenApp(): Promise<TestApp> {
  const broken = await createTestApp();
  await dropAccountTables(broken);
  return broken;
}

describe('security headers on every kind of answer', () => {
  let app: TestApp;
  let broken: TestApp;
  let busy: TestApp;
  beforeAll(async () => {
    [app, broken, busy] = await Promise.all([
      createTestApp(),
      brokenApp(),
      createTestApp({ BCRYPT_MAX_CONCURRENCY: '1', BCRYPT_MAX_QUEUE: '0' }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([app.close(), broken.close(), busy.close()]);
  });

  /** One kind of answer: how to get it, and its exact status and JSON body. */
  type Case = [string, () => Promise<LightMyRequestResponse>, number, unknown];
  const cases: Case[] = [
    ['REST 200', () => sendEmpty(app, 'GET', '/'), 200, { message: 'Bienvenue' }],
    [
      'REST 400 (missing field)',
      () => sendForm(app, 'POST', '/users', { password: PASSWORD }),
      400,
      { message: 'email is required' },
    ],
    [
      'REST 401 (wrong password)',
      async () =>
        sendForm(app, 'POST', '/sessions', { email: await registeredUser(app), password: 'nope nope' }),
      401,
      { message: 'invalid email or password' },
    ],
    ['REST 403 (no session)', () => sendEmpty(app, 'GET', '/profile'), 403, { message: 'no valid session' }],
    ['404 (unknown route)', () => sendEmpty(app, 'GET', '/nowhere'), 404, { message: 'not found' }],
    [
      '415 (other body type)',
      () =>
        app.server.inject({
          method: 'POST',
          url: '/users',
          payload: 'email=a',
          headers: { 'content-type': 'text/plain' },
        }),
      415,
      { message: 'unsupported content type: use application/x-www-form-urlencoded or application/json' },
    ],
    [
      '413 (body over the limit)',
      () => sendJson(app, 'POST', '/users', { email: 'a@example.com', password: 'x'.repeat(70 * 1024) }),
      413,
      { message: 'request body too large' },
    ],
    [
      'REST 500 (database fault)',
      () => sendForm(broken, 'POST', '/users', { email: uniqueEmail(), password: PASSWORD }),
      500,
      { message: 'internal server error', requestId: expect.stringMatching(UUID) as string },
    ],
    [
      'REST 503 (hashing gate full)',
      async () => {
        let open!: () => void;
        const slot = busy.passwords.admission.run(() => new Promise<void>((resolve) => (open = resolve)));
        try {
          return await sendForm(busy, 'POST', '/users', { email: uniqueEmail(), password: PASSWORD });
        } finally {
          open();
          await slot;
        }
      },
      503,
      { message: 'service busy, try again shortly' },
    ],
    ['GraphQL 200', async () => (await graphql(app, PROFILE)).response, 200, { data: { profile: null } }],
    [
      'GraphQL 400 (validation)',
      async () => (await graphql(app, '{ nope }')).response,
      400,
      {
        errors: [
          {
            message: 'Cannot query field "nope" on type "Query".',
            locations: [{ line: 1, column: 3 }],
            extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
          },
        ],
      },
    ],
    [
      'GraphQL 400 (malformed Host)',
      () =>
        app.server.inject({
          method: 'POST',
          url: '/graphql',
          payload: JSON.stringify({ query: PROFILE }),
          headers: { 'content-type': 'application/json', host: 'bad host' },
        }),
      400,
      { message: 'malformed Host header' },
    ],
  ];

  it.each(cases)('%s', async (_kind, send, status, body) => {
    const response = await send();
    expect(response.statusCode).toBe(status);
    expect(response.json()).toEqual(body);
    expect(response.headers).toMatchObject(SECURITY_HEADERS);
    expect(response.headers['x-request-id']).toMatch(UUID);
  });

  it('a 302 logout redirect', async () => {
    const { cookie } = await signedInUser(app);
    const response = await sendEmpty(app, 'DELETE', '/sessions', cookie);
    expect([response.statusCode, response.headers.location]).toEqual([302, '/']);
    expect(response.headers).toMatchObject(SECURITY_HEADERS);
    expect(response.headers['x-request-id']).toMatch(UUID);
  });

  // KNOWN SRC BUG (reported): a URL that does not decode is refused by Fastify's router through
  // `frameworkErrors` (answerFrameworkError) before any onRequest hook runs, so the 400 carries neither helmet's
  // headers nor Cache-Control nor X-Request-Id. Flip to it() once fixed.
  it('a 400 for a URL that does not decode', async () => {
    const response = await app.server.inject({ method: 'GET', url: '/%' });
    expect([response.statusCode, response.json()]).toEqual([400, { message: 'malformed URL' }]);
    expect(response.headers).toMatchObject(SECURITY_HEADERS);
    expect(response.headers['x-request-id']).toMatch(UUID);
  });
});

describe('Strict-Transport-Security', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp({ TRUST_PROXY: '127.0.0.1' });
  });
  afterAll(() => app.close());

  it('is sent over HTTPS (as a trusted proxy reports it), never over plain HTTP', async () => {
    const overHttp = await app.server.inject({ method: 'GET', url: '/', remoteAddress: '127.0.0.1' });
    expect(overHttp.headers['strict-transport-security']).toBeUndefined();
    const overHttps = await app.server.inject({
      method: 'GET',
      url: '/',
      remoteAddress: '127.0.0.1',
      headers: { 'x-forwarded-proto': 'https' },
    });
    expect(overHttps.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    // From a client no proxy setting trusts, X-Forwarded-Proto means nothing.
    const untrusted = await app.server.inject({
      method: 'GET',
      url: '/',
      remoteAddress: '203.0.113.9',
      headers: { 'x-forwarded-proto': 'https' },
    });
    expect(untrusted.headers['strict-transport-security']).toBeUndefined();
  });
});

describe('the playground CSP', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp();
  });
  afterAll(async () => {
    await app.close();
  });

  it('applies only to the HTML page at GET /graphql, which keeps every other security header', async () => {
    const page = await app.server.inject({
      method: 'GET',
      url: '/graphql',
      headers: { accept: 'text/html' },
    });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers).toMatchObject({ ...SECURITY_HEADERS, 'content-security-policy': PLAYGROUND_CSP });
  });

  it.each([
    [
      'a GET query',
      {
        method: 'GET' as const,
        url: `/graphql?query=${encodeURIComponent(PROFILE)}`,
        headers: { 'apollo-require-preflight': 'true', accept: 'application/json' },
      },
    ],
    [
      'a POST query',
      {
        method: 'POST' as const,
        url: '/graphql',
        payload: JSON.stringify({ query: PROFILE }),
        headers: { 'content-type': 'application/json', accept: 'text/html, application/json' },
      },
    ],
    ['HTML asked of a REST route', { method: 'GET' as const, url: '/', headers: { accept: 'text/html' } }],
  ])('does not apply to %s, which gets the API CSP', async (_case, request) => {
    const response = await app.server.inject(request);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(response.headers['content-security-policy']).toBe(API_CSP);
  });
});

describe('CORS', () => {
  const LISTED = 'https://app.example.com';
  const ALSO_LISTED = 'https://admin.example.com';

  /** A preflight as a browser sends it before a credentialed JSON POST. */
  function preflight(app: TestApp, origin: string, url = '/graphql'): Promise<LightMyRequestResponse> {
    return app.server.inject({
      method: 'OPTIONS',
      url,
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
  }

  describe('off by default (no CORS_ORIGINS)', () => {
    let app: TestApp;
    beforeAll(async () => {
      app = await createTestApp();
    });
    afterAll(async () => {
      await app.close();
    });

    it('adds no Access-Control-* header to any answer, even for an Origin', async () => {
      const email = await registeredUser(app);
      const answers = [
        await app.server.inject({ method: 'GET', url: '/', headers: { origin: LISTED } }),
        await app.server.inject({
          method: 'POST',
          url: '/sessions',
          payload: { email, password: PASSWORD },
          headers: { origin: LISTED },
        }),
        await app.server.inject({
          method: 'POST',
          url: '/graphql',
          payload: { query: PROFILE },
          headers: { origin: LISTED, 'content-type': 'application/json' },
        }),
      ];
      // Unlisted, that origin's unsafe requests are refused as cross-site (request-checks.ts); none gets CORS.
      expect(answers.map((answer) => answer.statusCode)).toEqual([200, 403, 403]);
      for (const answer of answers) expect(corsHeaders(answer)).toEqual([]);
    });

    it.each(['/graphql', '/sessions'])(
      'answers a preflight to %s with 404 and no CORS headers',
      async (url) => {
        const response = await preflight(app, LISTED, url);
        expect([response.statusCode, response.json()]).toEqual([404, { message: 'not found' }]);
        expect(corsHeaders(response)).toEqual([]);
        expect(response.headers).toMatchObject(SECURITY_HEADERS);
      },
    );
  });

  describe(`with CORS_ORIGINS=${LISTED},${ALSO_LISTED}`, () => {
    let app: TestApp;
    beforeAll(async () => {
      app = await createTestApp({ CORS_ORIGINS: `${LISTED},${ALSO_LISTED}` });
    });
    afterAll(async () => {
      await app.close();
    });

    it.each([LISTED, ALSO_LISTED])('lets %s read answers with credentials', async (origin) => {
      const response = await app.server.inject({ method: 'GET', url: '/', headers: { origin } });
      expect(response.statusCode).toBe(200);
      expect(response.headers).toMatchObject({
        'access-control-allow-origin': origin,
        'access-control-allow-credentials': 'true',
        'access-control-expose-headers': 'retry-after, x-request-id',
        ...SECURITY_HEADERS,
      });
      expect(response.headers.vary).toContain('Origin');
    });

    it('answers a listed preflight with 204, the allowed methods and headers, credentials and max age', async () => {
      const response = await preflight(app, LISTED);
      expect(response.statusCode).toBe(204);
      expect(response.body).toBe('');
      expect(response.headers).toMatchObject({
        'access-control-allow-origin': LISTED,
        'access-control-allow-credentials': 'true',
        'access-control-allow-methods': 'GET, POST, PUT, DELETE',
        'access-control-allow-headers': 'content-type, apollo-require-preflight, x-apollo-operation-name',
        'access-control-max-age': '600',
        ...SECURITY_HEADERS,
      });
    });

    it('signs a listed origin in through GraphQL: cookie and credentials header on the same answer', async () => {
      const email = await registeredUser(app);
      const response = await app.server.inject({
        method: 'POST',
        url: '/graphql',
        payload: { query: LOGIN, variables: { email, password: PASSWORD } },
        headers: { origin: LISTED, 'content-type': 'application/json' },
      });
      expect(response.json()).toMatchObject({ data: { login: { email } } });
      expect(response.headers['access-control-allow-origin']).toBe(LISTED);
      expect(response.headers['access-control-allow-credentials']).toBe('true');
      expect(response.headers['set-cookie']).toMatch(/^session_id=/);
    });

    it.each([
      'https://evil.example.com',
      'https://app.example.com.evil.com',
      'http://app.example.com',
      'https://app.example.com:8443',
      'null',
    ])('gives %s no CORS headers at all, and 404 to its preflight', async (origin) => {
      const simple = await app.server.inject({ method: 'GET', url: '/', headers: { origin } });
      expect(simple.statusCode).toBe(200);
      expect(corsHeaders(simple)).toEqual([]);
      const pre = await preflight(app, origin);
      expect([pre.statusCode, pre.json()]).toEqual([404, { message: 'not found' }]);
      expect(corsHeaders(pre)).toEqual([]);
    });

    it('adds no CORS headers to a request without an Origin', async () => {
      const response = await sendEmpty(app, 'GET', '/');
      expect(corsHeaders(response)).toEqual([]);
    });
  });
});

describe('request ids', () => {
  let app: TestApp;
  let broken: TestApp;
  beforeAll(async () => {
    [app, broken] = await Promise.all([createTestApp(), brokenApp()]);
  });
  afterAll(async () => {
    await Promise.all([app.close(), broken.close()]);
  });

  it("equal the reqId of that request's one log line, and differ between requests", async () => {
    const answers = [
      await sendEmpty(app, 'GET', '/'),
      await sendEmpty(app, 'GET', '/profile'),
      await sendEmpty(app, 'GET', '/nowhere'),
      (await graphql(app, PROFILE)).response,
    ];
    const ids = answers.map((answer) => answer.headers['x-request-id'] as string);
    expect(new Set(ids).size).toBe(4);
    for (const [index, id] of ids.entries()) {
      expect(id).toMatch(UUID);
      const lines = linesOf(app, id);
      expect(lines.map((line) => [line.msg, line.res?.statusCode])).toEqual([
        ['request completed', answers[index].statusCode],
      ]);
    }
  });

  it('ignore an X-Request-Id the client sends', async () => {
    const response = await app.server.inject({
      method: 'GET',
      url: '/',
      headers: { 'x-request-id': 'planted-by-client' },
    });
    expect(response.headers['x-request-id']).toMatch(UUID);
    expect(app.logLines.join('\n')).not.toContain('planted-by-client');
  });

  it('name the REST 500: its body, its header and its error log line carry the same id', async () => {
    const response = await sendForm(broken, 'POST', '/users', { email: uniqueEmail(), password: PASSWORD });
    expect(response.statusCode).toBe(500);
    const { requestId } = response.json<{ requestId: string }>();
    expect(requestId).toBe(response.headers['x-request-id']);
    expect(linesOf(broken, requestId).map((line) => [line.msg, line.res?.statusCode])).toEqual([
      ['request failed', undefined],
      ['request completed', 500],
    ]);
  });
});

describe('request timeout (REQUEST_TIMEOUT_SECONDS=1) on a real socket', () => {
  let app: TestApp;
  let port: number;
  beforeAll(async () => {
    app = await createTestApp({ REQUEST_TIMEOUT_SECONDS: '1' });
    await app.server.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await app.close();
  });

  /**
   * How long the server may take to answer a stalled request: the 1 s timeout plus Node's 1 s check interval,
   * with room for a slow machine. The answer settles when the server closes the connection.
   */
  const ANSWER_WITHIN_MS = 4_000;

  /**
   * Writes `head` on a fresh connection, then `trickle` one byte at a time every 200 ms (if given), and returns
   * what the server wrote before closing. Rejects when the server has not closed the connection in time.
   */
  function stalledRequest(head: string, trickle = false): Promise<{ statusLine: string; body: string }> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(head));
      let text = '';
      const dripper = trickle ? setInterval(() => socket.writable && socket.write('a'), 200) : undefined;
      const timer = setTimeout(() => {
        clearInterval(dripper);
        socket.destroy();
        reject(new Error(`no answer within ${ANSWER_WITHIN_MS} ms; got ${JSON.stringify(text)}`));
      }, ANSWER_WITHIN_MS);
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearTimeout(timer);
        clearInterval(dripper);
        const [head = '', body = ''] = text.split('\r\n\r\n');
        resolve({ statusLine: head.split('\r\n')[0], body });
      });
    });
  }

  it('answers 408 to headers that never finish, and closes the connection', async () => {
    const answer = await stalledRequest('GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    expect(answer).toEqual({
      statusLine: 'HTTP/1.1 408 Request Timeout',
      body: '{"message":"request took too long to arrive"}',
    });
  });

  // KNOWN SRC BUG (reported): Fastify assigns server.requestTimeout after Node created the server, so Node's
  // headersTimeout stays at its 60 s default; Node then swaps the two (headersTimeout may not exceed
  // requestTimeout), and REQUEST_TIMEOUT_SECONDS=1 bounds only the headers while a body may trickle for 60 s.
  // Fix: also pass `http: { headersTimeout: <same ms> }` (or set server.headersTimeout). Flip to it() once fixed.
  it('answers 408 to a body that trickles in after complete headers', async () => {
    const answer = await stalledRequest(
      'POST /sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"em',
      true,
    );
    expect(answer).toEqual({
      statusLine: 'HTTP/1.1 408 Request Timeout',
      body: '{"message":"request took too long to arrive"}',
    });
  });

  it('keeps serving other connections afterwards', async () => {
    const answer = await stalledRequest('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(answer).toEqual({ statusLine: 'HTTP/1.1 200 OK', body: '{"message":"Bienvenue"}' });
  });
});

/**
 * Holds the answer of the next bcrypt compare (the real compare still decides) until `release`, so a login stays
 * stuck for as long as a test needs; `returned` settles once the held compare has handed its answer back.
 */
function holdNextCompare(): { release: () => void; returned: Promise<void> } {
  type PromiseCompare = (data: string, hash: string) => Promise<boolean>;
  const realCompare = bcrypt.compare.bind(bcrypt) as PromiseCompare;
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let compareReturned!: () => void;
  const returned = new Promise<void>((resolve) => (compareReturned = resolve));
  const spy = jest.spyOn(bcrypt, 'compare') as unknown as jest.SpiedFunction<PromiseCompare>;
  spy.mockImplementationOnce(async (data, hash) => {
    const matches = await realCompare(data, hash);
    await released;
    compareReturned();
    return matches;
  });
  return { release, returned };
}

describe('handler timeout (HANDLER_TIMEOUT_SECONDS=1)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp({ HANDLER_TIMEOUT_SECONDS: '1' });
  });
  afterAll(async () => {
    jest.restoreAllMocks();
    await app.close();
  });

  it('answers 503 SERVICE_BUSY with Retry-After: 1 while the login is still stuck in bcrypt', async () => {
    const email = await registeredUser(app);
    const { release, returned } = holdNextCompare();

    try {
      const response = await sendForm(app, 'POST', '/sessions', { email, password: 'wrong password' });
      expect(app.passwords.admission.load).toEqual({ running: 1, waiting: 0 });
      expect([response.statusCode, response.json()]).toEqual([
        503,
        { message: 'service busy, try again shortly' },
      ]);
      expect(response.headers['retry-after']).toBe('1');
      expect(response.headers).toMatchObject(SECURITY_HEADERS);
      const id = response.headers['x-request-id'] as string;
      expect(linesOf(app, id).map((line) => [line.msg, line.res?.statusCode])).toEqual([
        ['request completed', 503],
      ]);
    } finally {
      release();
    }
    // The stuck compare still ends, and its slot is freed for the next login.
    await returned;
    await new Promise((resolve) => setImmediate(resolve));
    expect(app.passwords.admission.load).toEqual({ running: 0, waiting: 0 });
    const next = await sendForm(app, 'POST', '/sessions', { email, password: PASSWORD });
    expect(next.statusCode).toBe(200);
  });

  it('answers a GraphQL login stuck past the deadline in GraphQL’s shape, with the code and the wait', async () => {
    const email = await registeredUser(app);
    const { release } = holdNextCompare();
    try {
      const { response, errors } = await graphql(app, LOGIN, { email, password: 'wrong password' });
      expect([response.statusCode, response.headers['retry-after'], errors]).toEqual([
        503,
        '1',
        [
          {
            message: 'service busy, try again shortly',
            extensions: { code: 'SERVICE_BUSY', retryAfterSeconds: 1 },
          },
        ],
      ]);
    } finally {
      release();
    }
  });

  it('answers the same 503 to a POST over a real socket, whose body Fastify has already read', async () => {
    // Fastify 5.12 stops its handler timer when the request's body has been read (the IncomingMessage closes), so
    // over a real connection only the service's own deadline cuts a stuck POST off.
    const email = await registeredUser(app);
    const { release } = holdNextCompare();
    await app.server.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.server.address() as AddressInfo;
    try {
      const response = await fetch(`http://127.0.0.1:${port}/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ email, password: 'wrong password' }).toString(),
        signal: AbortSignal.timeout(10_000),
      });
      expect([response.status, response.headers.get('retry-after'), await response.json()]).toEqual([
        503,
        '1',
        { message: 'service busy, try again shortly' },
      ]);
    } finally {
      release();
    }
  });
});
