// Bodies are read strictly: UTF-8 only, bad bytes and escapes refused, so different inputs never decode alike.
import type { LightMyRequestResponse } from 'fastify';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { errorCodes, graphql, LOGIN } from '../helpers/graphql';
import { sendForm } from '../helpers/http';
import { PASSWORD, registeredUser, uniqueEmail } from '../helpers/factories';

const FORM = 'application/x-www-form-urlencoded';
const NOT_UTF8 = { message: 'request body is not valid UTF-8' };
const BAD_ESCAPE = { message: 'malformed form body: bad percent-encoding or UTF-8' };

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});
afterAll(async () => {
  await app.close();
});

function post(
  url: string,
  payload: string | Buffer,
  headers: Record<string, string>,
): Promise<LightMyRequestResponse> {
  return app.server.inject({ method: 'POST', url, payload, headers });
}

describe('bytes that are not UTF-8', () => {
  it('refuses a form whose raw bytes are not UTF-8, so "p\\xe4ss" and "p\\xfcss" cannot both become "p\\ufffdss"', async () => {
    const email = uniqueEmail();
    const body = Buffer.concat([
      Buffer.from(`email=${email}&password=p`),
      Buffer.from([0xe4]),
      Buffer.from('ssword1'),
    ]);
    const response = await post('/users', body, { 'content-type': FORM });
    expect([response.statusCode, response.json()]).toEqual([400, NOT_UTF8]);
  });

  it('refuses a JSON body whose bytes are not UTF-8', async () => {
    const body = Buffer.concat([
      Buffer.from(`{"email":"${uniqueEmail()}","password":"p`),
      Buffer.from([0xfc]),
      Buffer.from('ssword1"}'),
    ]);
    const response = await post('/users', body, { 'content-type': 'application/json' });
    expect([response.statusCode, response.json()]).toEqual([400, NOT_UTF8]);
  });

  it.each([
    ['a percent-escape of a lone Latin-1 byte', 'p%E4ssword1'],
    ['a truncated escape', 'password%'],
    ['a bad hex escape', 'pass%zzword'],
  ])('refuses a form field with %s', async (_case, encodedPassword) => {
    const response = await post('/users', `email=${uniqueEmail()}&password=${encodedPassword}`, {
      'content-type': FORM,
    });
    expect([response.statusCode, response.json()]).toEqual([400, BAD_ESCAPE]);
  });

  it('reads well-formed escapes, multibyte characters and + as a space', async () => {
    const email = uniqueEmail();
    const password = 'pässwörd + ünïcode';
    const encoded = encodeURIComponent(password).replace(/%20/g, '+');
    expect(
      (
        await post('/users', `email=${encodeURIComponent(email)}&password=${encoded}`, {
          'content-type': FORM,
        })
      ).statusCode,
    ).toBe(200);
    expect((await sendForm(app, 'POST', '/sessions', { email, password })).statusCode).toBe(200);
  });

  it('accepts a JSON body that starts with a byte-order mark', async () => {
    const body = `\ufeff${JSON.stringify({ email: uniqueEmail(), password: PASSWORD })}`;
    const response = await post('/users', body, { 'content-type': 'application/json' });
    expect(response.statusCode).toBe(200);
  });
});

describe('charsets and encodings', () => {
  it.each([
    ['application/json; charset=latin1', '{"email":"a@example.com","password":"xxxxxxxx"}'],
    ['application/x-www-form-urlencoded; charset=utf-16', 'email=a@example.com&password=xxxxxxxx'],
  ])('answers 415 to %s', async (type, payload) => {
    const response = await post('/users', payload, { 'content-type': type });
    expect([response.statusCode, response.json()]).toEqual([
      415,
      { message: 'unsupported charset: send the body as utf-8' },
    ]);
  });

  it.each([
    'application/json; charset=utf-8',
    'application/json; charset="UTF-8"',
    'application/json;charset=utf8',
  ])('accepts %s', async (type) => {
    const response = await post('/users', JSON.stringify({ email: uniqueEmail(), password: PASSWORD }), {
      'content-type': type,
    });
    expect(response.statusCode).toBe(200);
  });

  it('answers 415 to a compressed body instead of reading it as text', async () => {
    const response = await post('/users', 'not really gzip', {
      'content-type': FORM,
      'content-encoding': 'gzip',
    });
    expect([response.statusCode, response.json()]).toEqual([
      415,
      { message: 'unsupported content encoding: send the body uncompressed' },
    ]);
  });
});

describe('form keys', () => {
  it('treats __proto__ and constructor as plain keys that pollute nothing', async () => {
    const email = uniqueEmail();
    const response = await post(
      '/users',
      `__proto__[admin]=1&constructor=x&email=${email}&password=${PASSWORD.replace(/ /g, '+')}`,
      {
        'content-type': FORM,
      },
    );
    expect([response.statusCode, response.json()]).toEqual([200, { email, message: 'user created' }]);
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });
});

describe('emails no account can have, at lookup', () => {
  it.each([
    ['a NUL', (email: string) => email.replace('@', '\0@')],
    ['a newline', (email: string) => `${email}\nx`],
    ['an unpaired surrogate', () => '\udfff@example.com'],
    ['no @', () => 'nobody'],
    ['over 254 characters', () => `${'a'.repeat(250)}@example.com`],
  ])('answers 401 to a login with %s, not a 500', async (_case, emailFrom) => {
    const email = await registeredUser(app);
    const rest = await sendForm(app, 'POST', '/sessions', { email: emailFrom(email), password: PASSWORD });
    expect([rest.statusCode, rest.json()]).toEqual([401, { message: 'invalid email or password' }]);
    expect(errorCodes(await graphql(app, LOGIN, { email: emailFrom(email), password: PASSWORD }))).toEqual([
      'INVALID_CREDENTIALS',
    ]);
  });

  it('does not let an unpaired surrogate log in to the account whose email has U+FFFD in its place', async () => {
    const stored = `\ufffd${uniqueEmail()}`;
    expect((await sendForm(app, 'POST', '/users', { email: stored, password: PASSWORD })).statusCode).toBe(
      200,
    );
    const response = await app.server.inject({
      method: 'POST',
      url: '/sessions',
      payload: JSON.stringify({ email: stored.replace('\ufffd', '\udfff'), password: PASSWORD }),
      headers: { 'content-type': 'application/json' },
    });
    expect(response.statusCode).toBe(401);
  });

  it('answers 403 to a password reset with a NUL in the email, not a 500', async () => {
    const email = await registeredUser(app);
    const response = await sendForm(app, 'PUT', '/reset_password', {
      email: email.replace('@', '\0@'),
      reset_token: 'A'.repeat(43),
      new_password: PASSWORD,
    });
    expect([response.statusCode, response.json()]).toEqual([
      403,
      { message: 'invalid or expired reset token' },
    ]);
  });

  it('gives no session to createSession for an email with a NUL', async () => {
    const email = await registeredUser(app);
    expect(await app.accounts.createSession(email.replace('@', '\0@'))).toBeNull();
  });
});
