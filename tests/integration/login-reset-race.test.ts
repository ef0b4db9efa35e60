// A login whose password check overlaps a password reset must not leave a session behind: the reset ends them all.
import bcrypt from 'bcrypt';
import { valueOrThrow } from '../../src/errors';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { NEW_PASSWORD, PASSWORD, uniqueEmail } from '../helpers/factories';

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});
afterAll(async () => {
  await app.close();
});
afterEach(() => {
  jest.restoreAllMocks();
});

async function sessionCount(email: string): Promise<number> {
  const rows = await app.orm.em
    .getConnection()
    .execute<{ n: number }[]>(
      'select cast(count(*) as integer) as n from sessions s join users u on u.id = s.user_id where u.email = ?',
      [email],
    );
  return Number(rows[0].n);
}

/**
 * Runs `during` while bcrypt compares the next password, after the real compare has answered: the moment at which a
 * login has checked the old password but not yet stored its session. Instrumentation only: bcrypt still decides.
 */
function whileComparing(during: () => Promise<unknown>): void {
  type PromiseCompare = (data: string, hash: string) => Promise<boolean>;
  const realCompare = bcrypt.compare.bind(bcrypt) as PromiseCompare;
  // bcrypt.compare is typed with its callback overload too; the service only uses the promise form.
  const spy = jest.spyOn(bcrypt, 'compare') as unknown as jest.SpiedFunction<PromiseCompare>;
  spy.mockImplementationOnce(async (data, hash) => {
    const matches = await realCompare(data, hash);
    await during();
    return matches;
  });
}

it('refuses a login whose password was reset while it was being checked, and keeps no session', async () => {
  const email = uniqueEmail();
  await app.accounts.registerUser(email, PASSWORD);
  const { resetToken } = await app.accounts.getResetPasswordToken(email);

  whileComparing(() => app.accounts.updatePassword(email, resetToken, NEW_PASSWORD));
  const login = await app.accounts.login(email, PASSWORD);

  expect(login).toMatchObject({ ok: false, code: 'INVALID_CREDENTIALS', reason: 'PASSWORD_CHANGED' });
  expect(await sessionCount(email)).toBe(0);
  expect(await app.accounts.validLogin(email, NEW_PASSWORD)).toBe(true);
});

it('lets a login through when a reset of another account overlaps it', async () => {
  const email = uniqueEmail();
  const other = uniqueEmail();
  await app.accounts.registerUser(email, PASSWORD);
  await app.accounts.registerUser(other, PASSWORD);
  const { resetToken } = await app.accounts.getResetPasswordToken(other);

  whileComparing(() => app.accounts.updatePassword(other, resetToken, NEW_PASSWORD));
  const session = valueOrThrow(await app.accounts.login(email, PASSWORD));

  expect(await app.sessions.getUserFromSessionId(session.token)).toMatchObject({ email });
  expect(await sessionCount(email)).toBe(1);
});
