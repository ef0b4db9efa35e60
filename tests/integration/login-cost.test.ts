// Login's work does not depend on whether the email exists: every plausible attempt, REST or GraphQL, costs exactly one bcrypt compare.
import bcrypt from 'bcrypt';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { sendForm } from '../helpers/http';
import { errorCodes, graphql, LOGIN } from '../helpers/graphql';
import { PASSWORD, registeredUser, uniqueEmail } from '../helpers/factories';

let app: TestApp;
let email: string;
// Counts calls into the real bcrypt (the implementation is kept): the instrument, not a stand-in.
const compare = jest.spyOn(bcrypt, 'compare');

beforeAll(async () => {
  app = await createTestApp();
  email = await registeredUser(app);
});
afterAll(async () => {
  compare.mockRestore();
  await app.close();
});
beforeEach(() => {
  compare.mockClear();
});

it.each([
  ['an unknown email', () => uniqueEmail('ghost'), PASSWORD, 401],
  ['a known email and a wrong password', () => email, 'not the password', 401],
  ['a known email and the right password', () => email, PASSWORD, 200],
])('spends exactly one bcrypt compare on %s', async (_case, who, password, status) => {
  const response = await sendForm(app, 'POST', '/sessions', { email: who(), password });
  expect(response.statusCode).toBe(status);
  expect(compare).toHaveBeenCalledTimes(1);
});

it('compares an unknown email against a hash of the configured cost', async () => {
  await sendForm(app, 'POST', '/sessions', { email: uniqueEmail('ghost'), password: PASSWORD });
  const [, hash] = compare.mock.calls[0];
  expect(hash).toMatch(/^\$2b\$04\$/);
});

it.each([
  ['too short', 'short'],
  ['over 72 bytes', 'x'.repeat(73)],
])(
  'spends no bcrypt compare on a password %s, for a known or unknown email alike',
  async (_case, password) => {
    for (const who of [email, uniqueEmail('ghost')]) {
      expect((await sendForm(app, 'POST', '/sessions', { email: who, password })).statusCode).toBe(401);
    }
    expect(compare).not.toHaveBeenCalled();
  },
);

describe('through GraphQL login', () => {
  it.each([
    ['an unknown email', () => uniqueEmail('ghost'), PASSWORD, 'INVALID_CREDENTIALS'],
    ['a known email and a wrong password', () => email, 'not the password', 'INVALID_CREDENTIALS'],
    ['a known email and the right password', () => email, PASSWORD, undefined],
  ])('spends exactly one bcrypt compare on %s', async (_case, who, password, code) => {
    const answer = await graphql(app, LOGIN, { email: who(), password });
    expect(errorCodes(answer)).toEqual(code === undefined ? [] : [code]);
    expect(compare).toHaveBeenCalledTimes(1);
  });

  it('compares an unknown email against a hash of the configured cost', async () => {
    await graphql(app, LOGIN, { email: uniqueEmail('ghost'), password: PASSWORD });
    const [, hash] = compare.mock.calls[0];
    expect(hash).toMatch(/^\$2b\$04\$/);
  });

  it.each([
    ['too short', 'short'],
    ['over 72 bytes', 'x'.repeat(73)],
  ])(
    'spends no bcrypt compare on a password %s, for a known or unknown email alike',
    async (_case, password) => {
      for (const who of [email, uniqueEmail('ghost')]) {
        expect(errorCodes(await graphql(app, LOGIN, { email: who, password }))).toEqual([
          'INVALID_CREDENTIALS',
        ]);
      }
      expect(compare).not.toHaveBeenCalled();
    },
  );
});
