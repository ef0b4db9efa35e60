// GraphQL hardening through the real app: depth, aliases, tokens, auth mutations per operation, batching, exposure.
import { Lexer, Source, TokenKind } from 'graphql';
import type { LightMyRequestResponse } from 'fastify';
import { dropAccountTables } from '../helpers/faults';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { errorCodes, graphql, type GraphQLAnswer } from '../helpers/graphql';
import { sendForm } from '../helpers/http';
import { PASSWORD, registeredUser, uniqueEmail } from '../helpers/factories';

/** The CSP of every API answer; the HTML playground page alone gets a wider one. */
const API_CSP = "default-src 'none';base-uri 'none';form-action 'none';frame-ancestors 'none'";

/** How many lexical tokens graphql-js counts in a document (its parser's maxTokens counts the same way). */
function tokenCount(document: string): number {
  const lexer = new Lexer(new Source(document));
  let count = 0;
  while (lexer.advance().kind !== TokenKind.EOF) count += 1;
  return count;
}

/** `{ profile { ... on User { ... { email } } } }` with `fragments` inline fragments: depth fragments + 2. */
function profileNestedInFragments(fragments: number): string {
  return `{ profile { ${'... on User { '.repeat(fragments)}email ${'} '.repeat(fragments)}} }`;
}

/** `{ a0: profile { email } a1: ... }`: `count` aliases. */
function aliasedProfiles(count: number): string {
  return `{ ${Array.from({ length: count }, (_, i) => `a${i}: profile { email }`).join(' ')} }`;
}

/** The one error of a refused document, with its code and status. */
function expectRefusal(answer: GraphQLAnswer<unknown>, code: string, message: string): void {
  expect(answer.response.statusCode).toBe(400);
  expect(answer.errors?.map((error) => [error.extensions?.code, error.message])).toEqual([[code, message]]);
  expect(answer.data).toBeUndefined();
}

/** The GraphQL answer a document gets when it passes every limit: data, no errors, status 200. */
function expectAnswered(answer: GraphQLAnswer<unknown>): void {
  expect(answer.errors).toBeUndefined();
  expect(answer.response.statusCode).toBe(200);
}

/** Every error's extensions, for checking that no stack trace or other detail rides along. */
function allExtensions(response: LightMyRequestResponse): Record<string, unknown>[] {
  const body = response.json<{ errors?: { extensions?: Record<string, unknown> }[] }>();
  return (body.errors ?? []).map((error) => error.extensions ?? {});
}

/** Closes every app a test opened with `appWith`, after that test. */
const openApps: TestApp[] = [];
afterEach(async () => {
  await Promise.all(openApps.splice(0).map((opened) => opened.close()));
});

/** A fresh app with `env`, closed after the test. */
async function appWith(env: Record<string, string>): Promise<TestApp> {
  const opened = await createTestApp(env);
  openApps.push(opened);
  return opened;
}

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});
afterAll(async () => {
  await app.close();
});

describe('query depth (GRAPHQL_MAX_DEPTH, default 6; armor counts each field, inline fragment and spread)', () => {
  it('answers a document 6 deep: profile, four inline fragments, email', async () => {
    const answer = await graphql(app, profileNestedInFragments(4));
    expectAnswered(answer);
    expect(answer.data).toEqual({ profile: null });
  });

  it('refuses a document 7 deep with GRAPHQL_VALIDATION_FAILED, before anything runs', async () => {
    expectRefusal(
      await graphql(app, profileNestedInFragments(5)),
      'GRAPHQL_VALIDATION_FAILED',
      'Syntax Error: Query depth limit of 6 exceeded, found 7.',
    );
  });

  it('counts a named fragment spread as two levels (armor adds one for the spread and one for its position)', async () => {
    const fragment = (inline: number): string =>
      `{ profile { ...Deep } } fragment Deep on User { ${'... on User { '.repeat(inline)}email ${'} '.repeat(inline)}}`;
    // profile 1, the spread 2 and 3, then the fragment's inline fragments and email.
    expectAnswered(await graphql(app, fragment(2)));
    expectRefusal(
      await graphql(app, fragment(3)),
      'GRAPHQL_VALIDATION_FAILED',
      'Syntax Error: Query depth limit of 6 exceeded, found 7.',
    );
  });

  it('counts real nesting of introspection fields under __type the same way', async () => {
    const six = '{ __type(name: "User") { fields { type { ofType { ofType { name } } } } } }';
    const seven = '{ __type(name: "User") { fields { type { ofType { ofType { ofType { name } } } } } } }';
    expectAnswered(await graphql(app, six));
    expectRefusal(
      await graphql(app, seven),
      'GRAPHQL_VALIDATION_FAILED',
      'Syntax Error: Query depth limit of 6 exceeded, found 7.',
    );
  });

  it('applies to mutations too', async () => {
    const login = (inline: number): string =>
      `mutation { login(email: "${uniqueEmail('ghost')}", password: "${PASSWORD}") { ${'... on User { '.repeat(inline)}id ${'} '.repeat(inline)}} }`;
    expect(errorCodes(await graphql(app, login(4)))).toEqual(['INVALID_CREDENTIALS']);
    expectRefusal(
      await graphql(app, login(5)),
      'GRAPHQL_VALIDATION_FAILED',
      'Syntax Error: Query depth limit of 6 exceeded, found 7.',
    );
  });

  it('follows GRAPHQL_MAX_DEPTH: at 3, depth 3 passes and depth 4 is refused', async () => {
    const shallow = await appWith({ GRAPHQL_MAX_DEPTH: '3' });
    expectAnswered(await graphql(shallow, profileNestedInFragments(1)));
    expectRefusal(
      await graphql(shallow, profileNestedInFragments(2)),
      'GRAPHQL_VALIDATION_FAILED',
      'Syntax Error: Query depth limit of 3 exceeded, found 4.',
    );
  });
});

describe('aliases (GRAPHQL_MAX_ALIASES, default 15)', () => {
  it('answers 15 aliases', async () => {
    const answer = await graphql<Record<string, null>>(app, aliasedProfiles(15));
    expectAnswered(answer);
    expect(Object.keys(answer.data ?? {})).toHaveLength(15);
  });

  it('refuses 16 aliases with GRAPHQL_VALIDATION_FAILED', async () => {
    expectRefusal(
      await graphql(app, aliasedProfiles(16)),
      'GRAPHQL_VALIDATION_FAILED',
      'Syntax Error: Aliases limit of 15 exceeded, found 16.',
    );
  });

  it('counts aliases at every level and inside fragments, not only at the root', async () => {
    const document = `{ ${Array.from({ length: 8 }, (_, i) => `p${i}: profile { ...Keys }`).join(' ')} }
      fragment Keys on User { e: email }`;
    // 8 root aliases and the fragment's one alias, counted once per spread: 16.
    expectRefusal(
      await graphql(app, document),
      'GRAPHQL_VALIDATION_FAILED',
      'Syntax Error: Aliases limit of 15 exceeded, found 16.',
    );
  });

  it('does not count aliases of __typename, which cost nothing to answer (armor allow-list)', async () => {
    const document = `{ ${Array.from({ length: 20 }, (_, i) => `t${i}: __typename`).join(' ')} }`;
    const answer = await graphql<Record<string, string>>(app, document);
    expectAnswered(answer);
    expect(answer.data?.t19).toBe('Query');
  });

  it('follows GRAPHQL_MAX_ALIASES: at 2, two aliases pass and three are refused; at 0, one is refused', async () => {
    const two = await appWith({ GRAPHQL_MAX_ALIASES: '2' });
    expectAnswered(await graphql(two, aliasedProfiles(2)));
    expectRefusal(
      await graphql(two, aliasedProfiles(3)),
      'GRAPHQL_VALIDATION_FAILED',
      'Syntax Error: Aliases limit of 2 exceeded, found 3.',
    );
    const none = await appWith({ GRAPHQL_MAX_ALIASES: '0' });
    expectRefusal(
      await graphql(none, aliasedProfiles(1)),
      'GRAPHQL_VALIDATION_FAILED',
      'Syntax Error: Aliases limit of 0 exceeded, found 1.',
    );
  });
});

describe('tokens (GRAPHQL_MAX_TOKENS, default 1000, enforced by the graphql-js parser)', () => {
  /** `query Q { t0: __typename ... }` padded with bare `__typename`s to exactly `tokens` tokens. */
  function documentOf(tokens: number): string {
    // 4 tokens of frame (query Q { }), 3 per alias: distinct keys keep validation linear in the document.
    const aliases = Math.floor((tokens - 4) / 3);
    const bare = tokens - 4 - 3 * aliases;
    const fields = [
      ...Array.from({ length: aliases }, (_, i) => `t${i}: __typename`),
      ...Array<string>(bare).fill('__typename'),
    ];
    const document = `query Q { ${fields.join(' ')} }`;
    expect(tokenCount(document)).toBe(tokens);
    return document;
  }

  it('parses and answers a document of exactly 1000 tokens', async () => {
    const answer = await graphql<Record<string, string>>(app, documentOf(1000));
    expectAnswered(answer);
    expect(answer.data?.t0).toBe('Query');
  });

  it('refuses a document of 1001 tokens with GRAPHQL_PARSE_FAILED, before validation', async () => {
    const answer = await graphql(app, documentOf(1001));
    expect(answer.response.statusCode).toBe(400);
    expect(errorCodes(answer)).toEqual(['GRAPHQL_PARSE_FAILED']);
    // graphql-js's own wording, typo included.
    expect(answer.errors?.[0].message).toBe(
      'Syntax Error: Document contains more that 1000 tokens. Parsing aborted.',
    );
  });

  it('follows GRAPHQL_MAX_TOKENS: at 10, 10 tokens pass and 11 are refused', async () => {
    const ten = await appWith({ GRAPHQL_MAX_TOKENS: '10' });
    expectAnswered(await graphql(ten, documentOf(10)));
    const answer = await graphql(ten, documentOf(11));
    expect(errorCodes(answer)).toEqual(['GRAPHQL_PARSE_FAILED']);
    expect(answer.errors?.[0].message).toBe(
      'Syntax Error: Document contains more that 10 tokens. Parsing aborted.',
    );
  });
});

describe('costly auth mutations per operation (GRAPHQL_MAX_AUTH_MUTATIONS, default 1)', () => {
  /** A literal login selection with the given response key (or none) and sub-selection. */
  const login = (email: string, password: string, alias = '', fields = 'id'): string =>
    `${alias === '' ? '' : `${alias}: `}login(email: "${email}", password: "${password}") { ${fields} }`;

  /** How many sessions the database holds. */
  async function sessionCount(target: TestApp): Promise<number> {
    const rows = await target.orm.em
      .getConnection()
      .execute<{ n: number }[]>('select cast(count(*) as integer) as n from sessions');
    return Number(rows[0].n);
  }

  it('refuses two aliases of login, runs neither, and sets no cookie', async () => {
    const email = await registeredUser(app);
    const sessions = await sessionCount(app);
    const answer = await graphql(
      app,
      `mutation { ${login(email, PASSWORD, 'a')} ${login(email, PASSWORD, 'b')} }`,
    );
    expectRefusal(answer, 'GRAPHQL_VALIDATION_FAILED', '"login" may run at most 1 time per operation; got 2');
    expect(answer.response.headers['set-cookie']).toBeUndefined();
    expect(await sessionCount(app)).toBe(sessions);
  });

  it.each([
    ['register', (i: number) => `r${i}: register(email: "${uniqueEmail()}", password: "${PASSWORD}") { id }`],
    ['requestPasswordReset', (i: number) => `q${i}: requestPasswordReset(email: "a@example.com") { email }`],
    [
      'resetPassword',
      (i: number) =>
        `x${i}: resetPassword(email: "a@example.com", resetToken: "${'T'.repeat(43)}", newPassword: "${PASSWORD}")`,
    ],
  ])('refuses two aliases of %s', async (name, field) => {
    expectRefusal(
      await graphql(app, `mutation { ${field(1)} ${field(2)} }`),
      'GRAPHQL_VALIDATION_FAILED',
      `"${name}" may run at most 1 time per operation; got 2`,
    );
  });

  it('runs login and register together in one operation: each once is within the limit', async () => {
    const email = await registeredUser(app);
    const newcomer = uniqueEmail();
    const answer = await graphql<{ login: { email: string }; register: { email: string } }>(
      app,
      `mutation { ${login(email, PASSWORD, '', 'email')} register(email: "${newcomer}", password: "${PASSWORD}") { email } }`,
    );
    expectAnswered(answer);
    expect(answer.data).toEqual({ login: { email }, register: { email: newcomer } });
  });

  it('counts a login reached through a named fragment spread', async () => {
    const email = uniqueEmail('ghost');
    expectRefusal(
      await graphql(
        app,
        `mutation { ...SignIn ${login(email, PASSWORD, 'again')} } fragment SignIn on Mutation { ${login(email, PASSWORD)} }`,
      ),
      'GRAPHQL_VALIDATION_FAILED',
      '"login" may run at most 1 time per operation; got 2',
    );
  });

  it('counts a login reached through an inline fragment', async () => {
    const email = uniqueEmail('ghost');
    expectRefusal(
      await graphql(
        app,
        `mutation { ... on Mutation { ${login(email, PASSWORD, 'again')} } ${login(email, PASSWORD)} }`,
      ),
      'GRAPHQL_VALIDATION_FAILED',
      '"login" may run at most 1 time per operation; got 2',
    );
  });

  it('counts identical selections under one key once: GraphQL merges them into a single login', async () => {
    const email = await registeredUser(app);
    const sessions = await sessionCount(app);
    const answer = await graphql<{ login: { id: string; email: string } }>(
      app,
      `mutation { ${login(email, PASSWORD, '', 'id')} ... on Mutation { ${login(email, PASSWORD, '', 'email')} } }`,
    );
    expectAnswered(answer);
    expect(answer.data?.login.email).toBe(email);
    expect(await sessionCount(app)).toBe(sessions + 1);
  });

  it('counts the same named fragment spread twice once', async () => {
    const answer = await graphql(
      app,
      `mutation { ...SignIn ...SignIn } fragment SignIn on Mutation { ${login(uniqueEmail('ghost'), PASSWORD)} }`,
    );
    expect(answer.response.statusCode).toBe(200);
    expect(errorCodes(answer)).toEqual(['INVALID_CREDENTIALS']);
  });

  it('does not limit logout, which costs no hash', async () => {
    const answer = await graphql(app, 'mutation { a: logout b: logout c: logout }');
    expectAnswered(answer);
    expect(answer.data).toEqual({ a: false, b: false, c: false });
  });

  it('follows GRAPHQL_MAX_AUTH_MUTATIONS: at 2, two logins run and three are refused', async () => {
    const two = await appWith({ GRAPHQL_MAX_AUTH_MUTATIONS: '2' });
    const email = await registeredUser(two);
    const answer = await graphql<{ a: { email: string }; b: { email: string } }>(
      two,
      `mutation { ${login(email, PASSWORD, 'a', 'email')} ${login(email, PASSWORD, 'b', 'email')} }`,
    );
    expectAnswered(answer);
    expect(answer.data).toEqual({ a: { email }, b: { email } });
    expect(await sessionCount(two)).toBe(2);
    expectRefusal(
      await graphql(
        two,
        `mutation { ${['a', 'b', 'c'].map((alias) => login(email, PASSWORD, alias)).join(' ')} }`,
      ),
      'GRAPHQL_VALIDATION_FAILED',
      '"login" may run at most 2 times per operation; got 3',
    );
  });
});

describe('batching', () => {
  it('refuses an array of operations with 400 BAD_REQUEST and runs none of them', async () => {
    const email = await registeredUser(app);
    const login = {
      query:
        'mutation ($email: String!, $password: String!) { login(email: $email, password: $password) { id } }',
      variables: { email, password: PASSWORD },
    };
    for (const batch of [[login], [login, { query: '{ profile { email } }' }]]) {
      const response = await app.server.inject({
        method: 'POST',
        url: '/graphql',
        payload: JSON.stringify(batch),
        headers: { 'content-type': 'application/json' },
      });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toEqual({
        errors: [{ message: 'Operation batching disabled.', extensions: { code: 'BAD_REQUEST' } }],
      });
      expect(response.headers['set-cookie']).toBeUndefined();
    }
  });
});

describe('introspection, suggestions and the playground, by NODE_ENV and overrides', () => {
  const INTROSPECTION = '{ __schema { queryType { name } } }';
  const TYPE_LOOKUP = '{ __type(name: "User") { name } }';
  const INTROSPECTION_OFF =
    'GraphQL introspection is off on this server (the query contained __schema or __type); ' +
    'its operator can turn it on with GRAPHQL_INTROSPECTION=true';
  const MISSPELT = '{ profile { emial } }';

  /** GET /graphql as a browser opening it. */
  function openInBrowser(target: TestApp): Promise<LightMyRequestResponse> {
    return target.server.inject({ method: 'GET', url: '/graphql', headers: { accept: 'text/html' } });
  }

  async function expectIntrospection(target: TestApp, on: boolean): Promise<void> {
    const schema = await graphql(target, INTROSPECTION);
    const type = await graphql(target, TYPE_LOOKUP);
    if (on) {
      expect(schema.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
      expect(type.data).toEqual({ __type: { name: 'User' } });
    } else {
      expectRefusal(schema, 'GRAPHQL_VALIDATION_FAILED', INTROSPECTION_OFF);
      expectRefusal(type, 'GRAPHQL_VALIDATION_FAILED', INTROSPECTION_OFF);
    }
  }

  async function expectSuggestions(target: TestApp, shown: boolean): Promise<void> {
    const answer = await graphql(target, MISSPELT);
    // With suggestions hidden, armor masks "Did you mean ..." but leaves graphql-js's question mark.
    const hint = shown ? 'Did you mean "email"?' : '[Suggestion hidden]?';
    expectRefusal(answer, 'GRAPHQL_VALIDATION_FAILED', `Cannot query field "emial" on type "User". ${hint}`);
    const argument = await graphql(
      target,
      'mutation { login(emial: "a@example.com", password: "x") { id } }',
    );
    const messages = (argument.errors ?? []).map((error) => error.message).join('\n');
    if (shown) expect(messages).toContain('Did you mean "email"?');
    else expect(messages).not.toMatch(/did you mean/i);
  }

  async function expectPlayground(target: TestApp, on: boolean): Promise<void> {
    const response = await openInBrowser(target);
    if (on) {
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toMatch(/^text\/html/);
      expect(response.body).toContain('<!DOCTYPE html>');
    } else {
      // No page: Apollo treats the GET as an operation, which CSRF prevention refuses, in JSON with the API CSP.
      expect(response.statusCode).toBe(400);
      expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(response.headers['content-security-policy']).toBe(API_CSP);
      expect(response.body).not.toMatch(/<html/i);
    }
  }

  it.each([
    ['development', {}, true, true],
    ['test', {}, true, true],
    ['production', {}, false, false],
    ['production', { GRAPHQL_INTROSPECTION: 'true' }, true, false],
    ['production', { PLAYGROUND: 'true' }, false, true],
    ['production', { GRAPHQL_INTROSPECTION: 'true', PLAYGROUND: 'true' }, true, true],
    ['development', { GRAPHQL_INTROSPECTION: 'false' }, false, true],
    ['development', { PLAYGROUND: 'false' }, true, false],
  ])(
    'NODE_ENV=%s with %j: introspection and suggestions %s, playground %s',
    async (nodeEnv, overrides, introspection, playground) => {
      const target = await appWith({ NODE_ENV: nodeEnv, ...overrides });
      await expectIntrospection(target, introspection);
      await expectSuggestions(target, introspection);
      await expectPlayground(target, playground);
    },
  );
});

describe('no stack traces in any environment', () => {
  it.each(['development', 'test', 'production'])(
    'NODE_ENV=%s: internal, expected, validation and parse errors carry only their code (and request id)',
    async (nodeEnv) => {
      const target = await appWith({ NODE_ENV: nodeEnv });
      const email = await registeredUser(target);
      const expected = await graphql(
        target,
        `mutation { login(email: "${email}", password: "wrong password") { id } }`,
      );
      const validation = await graphql(target, '{ profile { nope } }');
      const parse = await graphql(target, '{ profile {');
      const rest = await sendForm(target, 'POST', '/sessions', { email, password: 'wrong password' });
      expect(rest.statusCode).toBe(401);

      // Then a fault: the tables disappear under a running login.
      await dropAccountTables(target);
      const internal = await graphql(
        target,
        `mutation { login(email: "${email}", password: "x1234567") { id } }`,
      );

      expect(allExtensions(expected.response)).toEqual([{ code: 'INVALID_CREDENTIALS' }]);
      expect(allExtensions(validation.response)).toEqual([{ code: 'GRAPHQL_VALIDATION_FAILED' }]);
      expect(allExtensions(parse.response)).toEqual([{ code: 'GRAPHQL_PARSE_FAILED' }]);
      expect(allExtensions(internal.response)).toEqual([
        { code: 'INTERNAL_SERVER_ERROR', requestId: internal.response.headers['x-request-id'] },
      ]);
      for (const answer of [expected, validation, parse, internal]) {
        expect(answer.response.body).not.toMatch(/stacktrace|\bat .*\.(js|ts):\d+/);
      }
    },
  );
});
