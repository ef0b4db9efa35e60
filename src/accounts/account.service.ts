// Accounts: registration, credentials, password change and reset, rehashing; the exercise's account names.
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/knex';
import { AuthError, fail, succeed, valueOrThrow, type Failure, type Result } from '../errors';
import type { User } from '../entities/user.entity';
import { drain, generateToken, hashToken, isWellFormedToken, toPublicUser } from '../shared';
import type { Clock, PublicUser } from '../shared';
import {
  endSessionsOfUser,
  UNKNOWN_DEVICE,
  type DeviceInfo,
  type NewSession,
  type SessionService,
} from '../sessions';
import { enqueueMail, type OutgoingMail } from '../mail';
import {
  checkNewPassword,
  isPlausiblePassword,
  legacySpellingOf,
  lookupEmail,
  parseEmail,
} from './input-policy';
import type { PasswordHasher } from './password';
import { ResetTokenRepository } from './reset-token.repository';
import { UserRepository } from './user.repository';

const MS_PER_SECOND = 1000;

/** The most reset tokens one account may hold whatever the limits allow: a bound on the table. */
const MAX_LIVE_RESET_TOKENS_CEILING = 1000;

/**
 * The most reset tokens one account holds at once; a new one beyond it replaces the oldest. It is the most
 * requests the per-account limit admits while one token lives: a token's lifetime overlaps at most
 * ceil(ttl / window) + 1 fixed windows, each admitting `points`. So within the limits no request can ever displace
 * a token its owner holds (20 with the defaults: a 1-hour token, 10 requests an hour), and it bounds the table
 * when limits are off.
 */
export function maxLiveResetTokens(
  resetTokenTtlSeconds: number,
  perAccount: { readonly points: number; readonly durationSeconds: number },
): number {
  const windows = Math.ceil(resetTokenTtlSeconds / perAccount.durationSeconds) + 1;
  return Math.min(Math.max(perAccount.points * windows, 1), MAX_LIVE_RESET_TOKENS_CEILING);
}

/** How long reset tokens live, and how many one account keeps. */
export interface ResetTokenLifetimes {
  readonly resetTokenTtlSeconds: number;
  /** How many reset tokens one account keeps at once (see maxLiveResetTokens). */
  readonly maxLiveResetTokens: number;
}

/** A reset token just issued for an email. */
export interface ResetTokenGrant {
  readonly userId: number;
  readonly email: string;
  readonly resetToken: string;
  readonly expiresAt: Date;
}

/**
 * The mail a change causes, given what the change knows (the grant, or the user), or null for none. It is written
 * to the outbox in the change's own transaction: the change and its mail commit together or not at all.
 */
export type MailFor<T> = (subject: T) => OutgoingMail | null;

/** Why a password was not accepted, for the security log only: the client is told INVALID_CREDENTIALS alike. */
export type CredentialsRefusal =
  'IMPOSSIBLE_PASSWORD' | 'UNKNOWN_EMAIL' | 'WRONG_PASSWORD' | 'WRONG_CURRENT_PASSWORD' | 'PASSWORD_CHANGED';

/**
 * A password that was not accepted. The client sees INVALID_CREDENTIALS and nothing more; `reason` and `userId`
 * are for the security log, and ride beside the failure rather than in anything a transport sends.
 */
export interface CredentialsRefused extends Failure {
  readonly code: 'INVALID_CREDENTIALS';
  readonly reason: CredentialsRefusal;
  readonly userId: number | null;
}

/** Whether a failure is a refused password (and so a verdict on a guess), as the login limits need to know. */
export function isCredentialsRefused(failure: Failure): failure is CredentialsRefused {
  return failure.code === 'INVALID_CREDENTIALS' && 'reason' in failure;
}

function refused(reason: CredentialsRefusal, userId: number | null = null): CredentialsRefused {
  return { ok: false, code: 'INVALID_CREDENTIALS', reason, userId };
}

/** Dependencies of AccountService, wired by the composition root. */
export interface AccountServiceDeps {
  readonly em: SqlEntityManager;
  readonly sessions: SessionService;
  readonly passwords: PasswordHasher;
  readonly clock: Clock;
  readonly lifetimes: ResetTokenLifetimes;
}

function addSeconds(date: Date, seconds: number): Date {
  return new Date(date.getTime() + seconds * MS_PER_SECOND);
}

/** A failure that must undo the writes of the transaction it ends: thrown out of the callback, caught right here. */
class RolledBack extends Error {
  constructor(readonly failure: Failure) {
    super(failure.code);
  }
}

/**
 * Runs `work` in one transaction on a fresh fork. A failure it returns rolls back what it wrote (MikroORM rolls a
 * transaction back only when its callback throws, so the failure is carried out as RolledBack and returned again).
 */
async function transaction<T>(
  em: SqlEntityManager,
  work: (tx: SqlEntityManager) => Promise<Result<T>>,
): Promise<Result<T>> {
  try {
    return await em.fork().transactional(async (tx) => {
      const result = await work(tx);
      if (!result.ok) throw new RolledBack(result);
      return result;
    });
  } catch (error) {
    if (error instanceof RolledBack) return error.failure;
    throw error;
  }
}

/**
 * Every account operation. Knows nothing about HTTP or GraphQL and never reads the environment. Failures that are
 * part of normal operation are returned as values; the exercise's own names (registerUser, getResetPasswordToken,
 * updatePassword) keep the exercise's contract and throw them as AuthErrors.
 */
export class AccountService {
  private readonly em: SqlEntityManager;
  private readonly sessions: SessionService;
  private readonly passwords: PasswordHasher;
  private readonly clock: Clock;
  private readonly lifetimes: ResetTokenLifetimes;

  constructor(deps: AccountServiceDeps) {
    this.em = deps.em;
    this.sessions = deps.sessions;
    this.passwords = deps.passwords;
    this.clock = deps.clock;
    this.lifetimes = deps.lifetimes;
  }

  /** How many reset tokens one account keeps at once. */
  get maxLiveResetTokens(): number {
    return this.lifetimes.maxLiveResetTokens;
  }

  /** Creates an account: BAD_USER_INPUT (policy) or EMAIL_TAKEN (also when two registrations of one email race). */
  async register(rawEmail: string, password: string): Promise<Result<PublicUser>> {
    const parsed = parseEmail(rawEmail);
    if (!parsed.ok) return parsed;
    const email = parsed.value;
    const weak = checkNewPassword(password, 'password', email);
    if (weak !== null) return weak;
    const users = this.users();
    // A cheap check first, so taken emails do not cost a bcrypt hash; the unique index below is what decides.
    if ((await users.findByEmail(email)) !== null) return fail('EMAIL_TAKEN');
    const hashedPassword = await this.passwords.hash(password);
    try {
      return succeed(toPublicUser(await users.addUser(email, hashedPassword)));
    } catch (error) {
      // Two registrations raced past the check above: the unique index let one in, this one lost.
      if (error instanceof UniqueConstraintViolationException) return fail('EMAIL_TAKEN');
      throw error;
    }
  }

  /**
   * The exercise's `register_user`: `register`, throwing its failure.
   * @throws AuthError BAD_USER_INPUT (policy), EMAIL_TAKEN.
   */
  async registerUser(rawEmail: string, password: string): Promise<PublicUser> {
    return valueOrThrow(await this.register(rawEmail, password));
  }

  /** Whether the email and password belong together (the exercise's `valid_login`). */
  async validLogin(rawEmail: string, password: string): Promise<boolean> {
    return (await this.checkCredentials(rawEmail, password)).ok;
  }

  /** Starts a session for a registered email and returns its token, or null for an unknown email (the exercise's). */
  async createSession(rawEmail: string, device: DeviceInfo = UNKNOWN_DEVICE): Promise<string | null> {
    const user = await this.findUser(rawEmail);
    return user === null ? null : (await this.sessions.start(toPublicUser(user), device)).token;
  }

  /**
   * Checks credentials and starts a session in one step, as both transports' login does: INVALID_CREDENTIALS, the
   * same for an unknown email and a wrong password.
   */
  async login(
    rawEmail: string,
    password: string,
    device: DeviceInfo = UNKNOWN_DEVICE,
  ): Promise<Result<NewSession> | CredentialsRefused> {
    const checked = await this.checkCredentials(rawEmail, password);
    if (!checked.ok) return checked;
    const { user, legacyHash } = checked.value;
    await this.rehashIfNeeded(user, password, legacyHash);
    const session = await this.sessions.start(toPublicUser(user), device);
    // The bcrypt compare above takes a while. If a reset committed meanwhile, the password just checked is no
    // longer the account's, and the reset's "end every session" ran before this session existed: take it back.
    // A reset committing after this read deletes the session itself, so none started with an old password survives.
    if (!(await this.users().hasPasswordHash(user.id, user.hashedPassword))) {
      await this.sessions.endSession(session.sessionId);
      return refused('PASSWORD_CHANGED', user.id);
    }
    return succeed(session);
  }

  /**
   * Changes a signed-in user's password. The current password must be proved again (a session alone may be a
   * borrowed laptop); every other session of the user ends, the current one stays. `notice` gives the mail telling
   * the owner, written in the same transaction as the change. Fails with INVALID_CREDENTIALS (wrong current
   * password), BAD_USER_INPUT (policy) or UNAUTHENTICATED (the account is gone).
   */
  async changePassword(
    userId: number,
    currentPassword: string,
    newPassword: string,
    keepSessionId: number,
    notice?: MailFor<PublicUser>,
  ): Promise<Result<PublicUser> | CredentialsRefused> {
    const user = await this.users().findOne({ id: userId });
    if (user === null) return fail('UNAUTHENTICATED');
    // Checked first: telling an intruder the policy of new passwords costs nothing, but a bcrypt compare does.
    const weak = checkNewPassword(newPassword, 'new password', user.email);
    if (weak !== null) return weak;
    const matches =
      isPlausiblePassword(currentPassword) &&
      (await this.passwords.verify(currentPassword, user.hashedPassword));
    if (!matches) return refused('WRONG_CURRENT_PASSWORD', userId);
    const hashedPassword = await this.passwords.hash(newPassword);
    return transaction(this.em, async (tx) => {
      // Conditional on the hash just checked: a reset or change that committed meanwhile wins, and this one fails.
      // It is also the transaction's first write, so it takes the user's row lock before any token row, in the
      // same order as a reset does: two transactions taking the two locks in opposite orders could deadlock.
      const replaced = await new UserRepository(tx).replacePasswordHash(
        userId,
        user.hashedPassword,
        hashedPassword,
        this.clock.now(),
      );
      if (!replaced) return refused('PASSWORD_CHANGED', userId);
      // A reset token asked for before the change must not be able to overwrite the new password later.
      await new ResetTokenRepository(tx).deleteAllForUser(userId);
      await endSessionsOfUser(tx, userId, keepSessionId);
      await enqueueMail(tx, notice?.(toPublicUser(user)) ?? null, this.clock.now());
      return succeed(toPublicUser(user));
    });
  }

  /**
   * Issues a fresh reset token for a registered email, valid for the configured time: BAD_USER_INPUT (malformed
   * email) or EMAIL_NOT_REGISTERED otherwise. Earlier tokens stay valid until they expire or one of them is used: a
   * request anyone can make for any email must not void the link its owner is about to click. The newest
   * `lifetimes.maxLiveResetTokens` are kept. Only the token's hash is stored. `mail` gives the mail carrying the
   * token, written with it in one transaction.
   */
  async issueResetToken(rawEmail: string, mail?: MailFor<ResetTokenGrant>): Promise<Result<ResetTokenGrant>> {
    const parsed = parseEmail(rawEmail);
    if (!parsed.ok) return parsed;
    const user = await this.users().findByEmail(parsed.value);
    if (user === null) return fail('EMAIL_NOT_REGISTERED');
    const resetToken = generateToken();
    const now = this.clock.now();
    const expiresAt = addSeconds(now, this.lifetimes.resetTokenTtlSeconds);
    const grant = { userId: user.id, email: user.email, resetToken, expiresAt };
    await this.em.fork().transactional(async (tx) => {
      await new ResetTokenRepository(tx).issue(
        user.id,
        hashToken(resetToken),
        now,
        expiresAt,
        this.lifetimes.maxLiveResetTokens,
      );
      // The token and its mail commit together: no token nobody is told of, no mail with a token never stored.
      await enqueueMail(tx, mail?.(grant) ?? null, now);
    });
    return succeed(grant);
  }

  /**
   * The exercise's `get_reset_password_token`: `issueResetToken`, throwing its failure.
   * @throws AuthError BAD_USER_INPUT (malformed email), EMAIL_NOT_REGISTERED.
   */
  async getResetPasswordToken(rawEmail: string, mail?: MailFor<ResetTokenGrant>): Promise<ResetTokenGrant> {
    return valueOrThrow(await this.issueResetToken(rawEmail, mail));
  }

  /**
   * Sets a new password with a reset token: BAD_USER_INPUT (password policy) or INVALID_RESET_TOKEN otherwise. The
   * token must belong to this email and be unexpired; it is consumed atomically (of two concurrent uses exactly one
   * succeeds), and every session of the user ends, since a reset usually means someone else may have had the
   * password. `notice` gives the mail telling the owner, written in the same transaction as the change.
   */
  async resetPassword(
    rawEmail: string,
    resetToken: unknown,
    newPassword: string,
    notice?: MailFor<PublicUser>,
  ): Promise<Result<PublicUser>> {
    // Named in words, not as either transport spells the field (new_password in REST, newPassword in GraphQL).
    const weak = checkNewPassword(newPassword, 'new password', rawEmail);
    if (weak !== null) return weak;
    if (!isWellFormedToken(resetToken)) return fail('INVALID_RESET_TOKEN');
    const tokenHash = hashToken(resetToken);
    const user = await this.findUser(rawEmail);
    // Check before hashing so that guessing tokens cannot make us burn bcrypt time; the DELETE below re-checks.
    if (user === null || !(await this.resetTokens().isLive(user.id, tokenHash, this.clock.now()))) {
      return fail('INVALID_RESET_TOKEN');
    }
    const hashedPassword = await this.passwords.hash(newPassword);
    return transaction(this.em, async (tx) => {
      const now = this.clock.now();
      // The user's row first: its lock makes a concurrent reset or change of this account wait for this one (and
      // changePassword takes the same lock first, so the two never deadlock). Rolled back if the token is gone.
      await new UserRepository(tx).setPasswordHash(user.id, hashedPassword, now);
      const tokens = new ResetTokenRepository(tx);
      // Of two requests racing with one token, the second finds it deleted once the first commits, and fails.
      if (!(await tokens.consume(user.id, tokenHash, now))) return fail('INVALID_RESET_TOKEN');
      // One reset ends them all: the other links in the owner's inbox must not reset the new password again.
      await tokens.deleteAllForUser(user.id);
      await endSessionsOfUser(tx, user.id);
      await enqueueMail(tx, notice?.(toPublicUser(user)) ?? null, now);
      return succeed(toPublicUser(user));
    });
  }

  /**
   * The exercise's `update_password`: `resetPassword`, throwing its failure.
   * @throws AuthError BAD_USER_INPUT (password policy), INVALID_RESET_TOKEN.
   */
  async updatePassword(
    rawEmail: string,
    resetToken: unknown,
    newPassword: string,
    notice?: MailFor<PublicUser>,
  ): Promise<PublicUser> {
    return valueOrThrow(await this.resetPassword(rawEmail, resetToken, newPassword, notice));
  }

  /** Removes reset tokens past their expiry, `batchSize` rows per statement; returns how many. */
  removeExpiredResetTokens(batchSize: number): Promise<number> {
    const now = this.clock.now();
    return drain(() => this.resetTokens().deleteExpired(now, batchSize), batchSize);
  }

  /**
   * The user whose password matches, and whether it matched a hash made before NFKC normalisation. Spends exactly
   * one bcrypt compare on a plausible password (two only for input NFKC changes, known email or not). A refusal
   * says (for the security log) which check failed.
   */
  private async checkCredentials(
    rawEmail: string,
    password: string,
  ): Promise<Result<{ user: User; legacyHash: boolean }> | CredentialsRefused> {
    // A password no account can have is refused without bcrypt; above all, a password past bcrypt's 72 bytes is
    // never compared, because bcrypt would check only its first 72 bytes.
    if (!isPlausiblePassword(password)) return refused('IMPOSSIBLE_PASSWORD');
    const user = await this.findUser(rawEmail);
    if (user === null) {
      // The same bcrypt work as a wrong password: timing must not tell who has an account.
      await this.passwords.verifyDummy(password);
      return refused('UNKNOWN_EMAIL');
    }
    const result = await this.passwords.check(password, user.hashedPassword);
    if (result === 'mismatch') return refused('WRONG_PASSWORD', user.id);
    return succeed({ user, legacyHash: result === 'legacy' });
  }

  /**
   * Rehashes a just-proved password when its stored hash has another cost than BCRYPT_ROUNDS or predates NFKC
   * normalisation, in the same request. Best effort: when the hashing gate is full the login still succeeds and a
   * later one rehashes.
   */
  private async rehashIfNeeded(user: User, password: string, legacyHash: boolean): Promise<void> {
    if (!legacyHash && !this.passwords.needsRehash(user.hashedPassword)) return;
    let hashedPassword: string;
    try {
      hashedPassword = await this.passwords.hash(password);
    } catch (error) {
      if (error instanceof AuthError && error.code === 'SERVICE_BUSY') return;
      throw error;
    }
    if (
      await this.users().replacePasswordHash(user.id, user.hashedPassword, hashedPassword, this.clock.now())
    ) {
      // The race check after the session starts compares against the hash now stored.
      user.hashedPassword = hashedPassword;
    }
  }

  /**
   * The user with this email, or null, including for input no account can have (see lookupEmail). An account kept
   * from before the mailbox rule under exactly the spelling given wins over the canonical form's holder (see
   * legacySpellingOf); other input costs the one query it always did.
   */
  private async findUser(rawEmail: string): Promise<User | null> {
    const email = lookupEmail(rawEmail);
    if (email === null) return null;
    const legacy = legacySpellingOf(rawEmail);
    const users = this.users();
    return (legacy === null ? null : await users.findByEmail(legacy)) ?? users.findByEmail(email);
  }

  private users(): UserRepository {
    return new UserRepository(this.em.fork());
  }

  private resetTokens(): ResetTokenRepository {
    return new ResetTokenRepository(this.em.fork());
  }
}
