// Reset tokens: bcrypt runs only for a token that can succeed, the conditional DELETE alone refuses any other, and
// an account may hold several at once.
import { AuthError, valueOrThrow } from '../../src/errors';
import type { PublicUser } from '../../src/shared';
import { generateToken, hashToken } from '../../src/shared';
import { maxLiveResetTokens } from '../../src/accounts';
import { ResetTokenRepository } from '../../src/accounts';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { NEW_PASSWORD, PASSWORD, uniqueEmail } from '../helpers/factories';

const MS_PER_SECOND = 1000;
// The default of the configuration, which createTestApp() leaves alone.
const RESET_TOKEN_TTL_SECONDS = 60 * 60;

/** A registered user and the reset token just issued for it. */
interface TokenHolder {
  readonly user: PublicUser;
  readonly resetToken: string;
}

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

/** Registers a user with a fresh unique email and issues it a reset token. */
async function tokenHolder(): Promise<TokenHolder> {
  const user = await app.accounts.registerUser(uniqueEmail(), PASSWORD);
  const { resetToken } = await app.accounts.getResetPasswordToken(user.email);
  return { user, resetToken };
}

/** The time `seconds` after `date`. */
function secondsAfter(date: Date, seconds: number): Date {
  return new Date(date.getTime() + seconds * MS_PER_SECOND);
}

describe('updatePassword', () => {
  it.each<[string, (holder: TokenHolder) => Promise<string>]>([
    ['a wrong token', () => Promise.resolve(generateToken())],
    ["another user's token", async () => (await tokenHolder()).resetToken],
    [
      'its own token once an hour old',
      ({ resetToken }) => {
        app.clock.advanceSeconds(RESET_TOKEN_TTL_SECONDS);
        return Promise.resolve(resetToken);
      },
    ],
  ])('refuses %s with INVALID_RESET_TOKEN and never hashes the new password', async (_case, tokenToTry) => {
    const holder = await tokenHolder();
    const resetToken = await tokenToTry(holder);
    // Instrumentation only: the spy calls through to bcrypt.
    const hash = jest.spyOn(app.passwords, 'hash');

    const promise = app.accounts.updatePassword(holder.user.email, resetToken, NEW_PASSWORD);
    await expect(promise).rejects.toBeInstanceOf(AuthError);
    await expect(promise).rejects.toMatchObject({ code: 'INVALID_RESET_TOKEN' });
    expect(hash).not.toHaveBeenCalled();
    expect(await app.accounts.validLogin(holder.user.email, PASSWORD)).toBe(true);
  });

  it('hashes the new password exactly once for the right token', async () => {
    const { user, resetToken } = await tokenHolder();
    const hash = jest.spyOn(app.passwords, 'hash');
    await expect(app.accounts.updatePassword(user.email, resetToken, NEW_PASSWORD)).resolves.toEqual(user);
    expect(hash).toHaveBeenCalledTimes(1);
    expect(hash).toHaveBeenCalledWith(NEW_PASSWORD);
  });

  it('accepts the email in capitals with spaces around it', async () => {
    const { user, resetToken } = await tokenHolder();
    await expect(
      app.accounts.updatePassword(` ${user.email.toUpperCase()} `, resetToken, NEW_PASSWORD),
    ).resolves.toEqual(user);
    expect(await app.accounts.validLogin(user.email, NEW_PASSWORD)).toBe(true);
  });
});

describe('ResetTokenRepository.consume, without the pre-checks of updatePassword', () => {
  /** One conditional DELETE, in a unit of work of its own. */
  function consume(userId: number, tokenHash: string, now: Date): Promise<boolean> {
    return new ResetTokenRepository(app.orm.em.fork()).consume(userId, tokenHash, now);
  }

  it.each([
    ['at the instant the token expires', RESET_TOKEN_TTL_SECONDS],
    ['a second after the token expired', RESET_TOKEN_TTL_SECONDS + 1],
  ])('is false %s, and true for the same token before then', async (_case, secondsLater) => {
    const { user, resetToken } = await tokenHolder();
    const issuedAt = app.clock.now();
    expect(await consume(user.id, hashToken(resetToken), secondsAfter(issuedAt, secondsLater))).toBe(false);
    expect(await consume(user.id, hashToken(resetToken), issuedAt)).toBe(true);
  });

  it("is false for one user's token hash with another user's id, and leaves both tokens usable", async () => {
    const owner = await tokenHolder();
    const other = await tokenHolder();
    const now = app.clock.now();
    expect(await consume(other.user.id, hashToken(owner.resetToken), now)).toBe(false);
    expect(await consume(owner.user.id, hashToken(owner.resetToken), now)).toBe(true);
    expect(await consume(other.user.id, hashToken(other.resetToken), now)).toBe(true);
  });

  it('is false for a hash that is not the token hash', async () => {
    const { user } = await tokenHolder();
    expect(await consume(user.id, hashToken(generateToken()), app.clock.now())).toBe(false);
  });

  it('is true exactly once for the right token hash', async () => {
    const { user, resetToken } = await tokenHolder();
    const now = app.clock.now();
    expect(await consume(user.id, hashToken(resetToken), now)).toBe(true);
    expect(await consume(user.id, hashToken(resetToken), now)).toBe(false);
  });
});

describe('several outstanding tokens', () => {
  it('keeps an earlier token valid when another is issued, and one reset ends them all', async () => {
    const { user, resetToken: first } = await tokenHolder();
    const { resetToken: second } = await app.accounts.getResetPasswordToken(user.email);
    expect(second).not.toBe(first);
    await expect(app.accounts.updatePassword(user.email, first, NEW_PASSWORD)).resolves.toEqual(user);
    await expect(app.accounts.updatePassword(user.email, second, PASSWORD)).rejects.toMatchObject({
      code: 'INVALID_RESET_TOKEN',
    });
    expect(await app.accounts.validLogin(user.email, NEW_PASSWORD)).toBe(true);
  });

  it('keeps as many tokens as the per-account limit admits while one lives: 20 with the defaults', () => {
    expect(app.accounts.maxLiveResetTokens).toBe(20);
    // A token's life overlaps at most ceil(ttl / window) + 1 windows of the per-account limit.
    expect(maxLiveResetTokens(3600, { points: 10, durationSeconds: 3600 })).toBe(20);
    expect(maxLiveResetTokens(7200, { points: 10, durationSeconds: 3600 })).toBe(30);
    expect(maxLiveResetTokens(600, { points: 3, durationSeconds: 60 })).toBe(33);
    expect(maxLiveResetTokens(86_400, { points: 1_000_000, durationSeconds: 1 })).toBe(1000);
  });

  it('keeps only the newest tokens of an account, as many as it keeps', async () => {
    const { user, resetToken: oldest } = await tokenHolder();
    const tokens = [oldest];
    for (let i = 1; i <= app.accounts.maxLiveResetTokens; i += 1) {
      tokens.push((await app.accounts.getResetPasswordToken(user.email)).resetToken);
    }
    const live = new ResetTokenRepository(app.orm.em.fork());
    const now = app.clock.now();
    expect(await live.isLive(user.id, hashToken(oldest), now)).toBe(false);
    for (const token of tokens.slice(1)) expect(await live.isLive(user.id, hashToken(token), now)).toBe(true);
  });

  it('ends every outstanding token when the password is changed', async () => {
    const { user, resetToken } = await tokenHolder();
    const session = valueOrThrow(await app.accounts.login(user.email, PASSWORD));
    await app.accounts.changePassword(user.id, PASSWORD, NEW_PASSWORD, session.sessionId);
    await expect(app.accounts.updatePassword(user.email, resetToken, PASSWORD)).rejects.toMatchObject({
      code: 'INVALID_RESET_TOKEN',
    });
  });
});
