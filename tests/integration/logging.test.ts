// What the logs hold after a whole flow: one line per request with its id, and no password, token, cookie or hash.
import { createTestApp, type TestApp } from '../helpers/test-app';
import { graphql, LOGIN, PROFILE } from '../helpers/graphql';
import { sendEmpty, sendForm, sessionCookieOf, tokenOf } from '../helpers/http';
import { NEW_PASSWORD, PASSWORD, uniqueEmail } from '../helpers/factories';

interface LogLine {
  level: number;
  reqId?: string;
  msg: string;
  req?: { method: string; url: string; remoteAddress?: string };
  res?: { statusCode: number };
}

/** pino's number for the info level. */
const INFO_LEVEL = 30;

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});
afterAll(async () => {
  await app.close();
});

it('writes one line per request, each with its request id, method, path and status', async () => {
  const before = app.logLines.length;
  await sendEmpty(app, 'GET', '/');
  await sendEmpty(app, 'GET', '/profile');
  await graphql(app, PROFILE);
  const lines = app.logLines.slice(before).map((line) => JSON.parse(line) as LogLine);
  expect(lines.map((line) => [line.msg, line.req?.method, line.req?.url, line.res?.statusCode])).toEqual([
    ['request completed', 'GET', '/', 200],
    ['request completed', 'GET', '/profile', 403],
    ['request completed', 'POST', '/graphql', 200],
  ]);
  expect(new Set(lines.map((line) => line.reqId)).size).toBe(3);
  expect(lines[0].req).toEqual({ method: 'GET', url: '/', remoteAddress: '127.0.0.1' });
});

it('never logs a password, session token, reset token, cookie or password hash', async () => {
  const email = uniqueEmail();
  const before = app.logLines.length;
  await sendForm(app, 'POST', '/users', { email, password: PASSWORD });
  const login = await sendForm(app, 'POST', '/sessions', { email, password: PASSWORD });
  const cookie = sessionCookieOf(login);
  await sendEmpty(app, 'GET', '/profile', cookie);
  await graphql(app, PROFILE, {}, cookie);
  const gqlLogin = await graphql(app, LOGIN, { email, password: PASSWORD });
  const gqlCookie = sessionCookieOf(gqlLogin.response);
  const resetToken = (await sendForm(app, 'POST', '/reset_password', { email })).json<{
    reset_token: string;
  }>().reset_token;
  await sendForm(app, 'PUT', '/reset_password', {
    email,
    reset_token: resetToken,
    new_password: NEW_PASSWORD,
  });
  await sendForm(app, 'POST', '/sessions', { email, password: 'a wrong password' });
  await app.server.inject({
    method: 'GET',
    url: `/graphql?query={profile{email}}&password=${PASSWORD}`,
    headers: { cookie },
  });

  const logged = app.logLines.slice(before).join('\n');
  const row = await app.orm.em
    .getConnection()
    .execute<{ hashed_password: string }[]>('select hashed_password from users where email = ?', [email]);
  for (const secret of [
    PASSWORD,
    NEW_PASSWORD,
    tokenOf(cookie),
    tokenOf(gqlCookie),
    resetToken,
    row[0].hashed_password,
  ]) {
    expect(logged).not.toContain(secret);
  }
  expect(logged).not.toMatch(/session_id|set-cookie|"cookie"/i);
});

it.each([
  [
    'a wrongly typed password variable',
    'mutation($p: String!) { login(email: "a@b.c", password: $p) { id } }',
    { p: ['hunter2-secret'] },
  ],
  [
    'a password literal of the wrong type',
    'mutation { login(email: "a@b.c", password: 8675309123) { id } }',
    {},
  ],
  [
    'two operations and no operation name',
    'query A { profile { email } } query B { profile { email } }',
    { password: 'hunter2-secret' },
  ],
  ['a subscription', 'subscription { profile }', { password: 'hunter2-secret' }],
])('logs %s as one info line, with no error line and no echoed value', async (_case, query, variables) => {
  const before = app.logLines.length;
  const answer = await graphql(app, query, variables);
  expect(answer.errors?.length).toBe(1);
  expect(answer.errors?.[0].extensions?.code).not.toBe('INTERNAL_SERVER_ERROR');
  const lines = app.logLines.slice(before);
  expect(lines.map((line) => (JSON.parse(line) as LogLine).level)).toEqual([INFO_LEVEL]);
  expect(lines.join('\n')).not.toMatch(/hunter2|8675309123/);
});
