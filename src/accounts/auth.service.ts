// The exercise's Auth class: registration, login, sessions and password reset, independent of any transport.
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/knex';
import { AuthError } from '../errors';
import type { User } from '../entities/user.entity';
import { drain } from '../shared/batches';
import type { Clock } from '../shared/clock';
import {
  checkNewPassword,
  isPlausiblePassword,
  legacySpellingOf,
  lookupEmail,
  parseEmail,
} from './input-policy';
import type { PasswordHasher } from './password';
import { SessionRepository } from '../sessions/session.repository';
import type { SessionStore } from '../sessions/session-store';
import { generateToken, hashToken, isWellFormedToken } from '../shared/tokens';
import { ResetTokenRepository } from './reset-token.repository';
import { UserRepository } from './user.repository';
import { OutboxRepository, type OutgoingMail } from '../mail/outbox.repository';

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

/** What a client may know about a user: never a hash, token or session. */
export interface PublicUser {
  readonly id: number;
  readonly email: string;
  readonly createdAt: Date;
}

/** How long sessions and reset tokens live. */
export interface AuthLifetimes {
  readonly sessionIdleTtlSeconds: number;
  readonly sessionAbsoluteTtlSeconds: number;
  readonly sessionTouchIntervalSeconds: number;
  readonly resetTokenTtlSeconds: number;
  /** How many reset tokens one account keeps at once (see maxLiveResetTokens). */
  readonly maxLiveResetTokens: number;
}

/** A session just created: the secret for the cookie and how long the cookie should live. */
export interface NewSession {
  /** The session's row id: for the service's own bookkeeping, never sent to a client. */
  readonly sessionId: number;
  readonly user: PublicUser;
  /** The cookie value. It exists only here and in the client's cookie jar; the database has its hash. */
  readonly token: string;
  readonly maxAgeSeconds: number;
}

/** The result of checking a session cookie: the user, and whether its expiry moved (so the cookie should too). */
export interface ValidSession {
  readonly sessionId: number;
  readonly user: PublicUser;
  readonly expiresAt: Date;
  /** True when this request extended the sliding expiry; the transport then re-sends the cookie. */
  readonly refreshed: boolean;
  /** Seconds from now until the session expires: the Max-Age for a re-sent cookie. */
  readonly maxAgeSeconds: number;
}

/** Where a session was started from, kept with it so its owner can recognise it. */
export interface DeviceInfo {
  readonly userAgent: string | null;
  readonly ip: string | null;
}

const UNKNOWN_DEVICE: DeviceInfo = { userAgent: null, ip: null };

/** What a user sees of one of their sessions: never its token or its hash. */
export interface SessionInfo {
  readonly sessionId: number;
  readonly publicId: string;
  readonly createdAt: Date;
  readonly lastSeenAt: Date;
  readonly expiresAt: Date;
  readonly userAgent: string | null;
  readonly ip: string | null;
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

/** Writes the mail `mailFor` gives, if any, in transaction `tx`. */
async function enqueueIn<T>(
  tx: SqlEntityManager,
  mailFor: MailFor<T> | undefined,
  subject: T,
  now: Date,
): Promise<void> {
  const mail = mailFor?.(subject) ?? null;
  if (mail !== null) await new OutboxRepository(tx).enqueue(mail, now);
}

/** Dependencies of AuthService, wired by the composition root. */
export interface AuthServiceDeps {
  readonly em: SqlEntityManager;
  readonly sessionStore: SessionStore;
  readonly passwords: PasswordHasher;
  readonly clock: Clock;
  readonly lifetimes: AuthLifetimes;
}

function toPublicUser(user: Pick<User, 'id' | 'email' | 'createdAt'>): PublicUser {
  return { id: user.id, email: user.email, createdAt: user.createdAt };
}

function addSeconds(date: Date, seconds: number): Date {
  return new Date(date.getTime() + seconds * MS_PER_SECOND);
}

/**
 * Every auth operation, with the exercise's method names. Knows nothing about HTTP or GraphQL and never
 * reads the environment. Expected absence is a value (null / false); expected failures are AuthErrors.
 */
export class AuthService {
  private readonly em: SqlEntityManager;
  private readonly sessionStore: SessionStore;
  private readonly passwords: PasswordHasher;
  private readonly clock: Clock;
  private readonly lifetimes: AuthLifetimes;

  constructor(deps: AuthServiceDeps) {
    this.em = deps.em;
    this.sessionStore = deps.sessionStore;
    this.passwords = deps.passwords;
    this.clock = deps.clock;
    this.lifetimes = deps.lifetimes;
  }

  /** How many reset tokens one account keeps at once. */
  get maxLiveResetTokens(): number {
    return this.lifetimes.maxLiveResetTokens;
  }

  /**
   * Creates an account.
   * @throws AuthError BAD_USER_INPUT (policy), EMAIL_TAKEN (also when two registrations of one email race).
   */
  async registerUser(rawEmail: string, password: string): Promise<PublicUser> {
    const email = parseEmail(rawEmail);
    checkNewPassword(password, 'password', email);
    const users = this.users();
    // A cheap check first, so taken emails do not cost a bcrypt hash; the unique index below is what decides.
    if ((await users.findByEmail(email)) !== null) throw new AuthError('EMAIL_TAKEN');
    const hashedPassword = await this.passwords.hash(password);
    try {
      return toPublicUser(await users.addUser(email, hashedPassword));
    } catch (error) {
      // Two registrations raced past the check above: the unique index let one in, this one lost.
      if (error instanceof UniqueConstraintViolationException) throw new AuthError('EMAIL_TAKEN');
      throw error;
    }
  }

  /** Whether the email and password belong together (the exercise's `valid_login`). */
  async validLogin(rawEmail: string, password: string): Promise<boolean> {
    try {
      await this.checkCredentials(rawEmail, password);
      return true;
    } catch (error) {
      if (error instanceof AuthError && error.code === 'INVALID_CREDENTIALS') return false;
      throw error;
    }
  }

  /** Starts a session for a registered email and returns its token, or null for an unknown email. */
  async createSession(rawEmail: string, device: DeviceInfo = UNKNOWN_DEVICE): Promise<string | null> {
    const user = await this.findUser(rawEmail);
    return user === null ? null : (await this.startSession(user, device)).token;
  }

  /**
   * Checks credentials and starts a session in one step, as both transports' login does.
   * @throws AuthError INVALID_CREDENTIALS, the same for an unknown email and a wrong password.
   */
  async login(rawEmail: string, password: string, device: DeviceInfo = UNKNOWN_DEVICE): Promise<NewSession> {
    const { user, legacyHash } = await this.checkCredentials(rawEmail, password);
    await this.rehashIfNeeded(user, password, legacyHash);
    const session = await this.startSession(user, device);
    // The bcrypt compare above takes a while. If a reset committed meanwhile, the password just checked is no
    // longer the account's, and the reset's "end every session" ran before this session existed: take it back.
    // A reset committing after this read deletes the session itself, so none started with an old password survives.
    if (!(await this.users().hasPasswordHash(user.id, user.hashedPassword))) {
      await this.sessions().deleteById(session.sessionId);
      throw new AuthError('INVALID_CREDENTIALS', undefined, { reason: 'PASSWORD_CHANGED', userId: user.id });
    }
    return session;
  }

  /**
   * Changes a signed-in user's password. The current password must be proved again (a session alone may be a
   * borrowed laptop); every other session of the user ends, the current one stays. `notice` gives the mail telling
   * the owner, written in the same transaction as the change.
   * @throws AuthError INVALID_CREDENTIALS (wrong current password), BAD_USER_INPUT (policy).
   */
  async changePassword(
    userId: number,
    currentPassword: string,
    newPassword: string,
    keepSessionId: number,
    notice?: MailFor<PublicUser>,
  ): Promise<PublicUser> {
    const user = await this.users().findOne({ id: userId });
    if (user === null) throw new AuthError('UNAUTHENTICATED');
    // Checked first: telling an intruder the policy of new passwords costs nothing, but a bcrypt compare does.
    checkNewPassword(newPassword, 'new password', user.email);
    const matches =
      isPlausiblePassword(currentPassword) &&
      (await this.passwords.verify(currentPassword, user.hashedPassword));
    if (!matches) {
      throw new AuthError('INVALID_CREDENTIALS', undefined, { reason: 'WRONG_CURRENT_PASSWORD', userId });
    }
    const hashedPassword = await this.passwords.hash(newPassword);
    await this.em.fork().transactional(async (tx) => {
      // Conditional on the hash just checked: a reset or change that committed meanwhile wins, and this one fails.
      // It is also the transaction's first write, so it takes the user's row lock before any token row, in the
      // same order as a reset does: two transactions taking the two locks in opposite orders could deadlock.
      const replaced = await new UserRepository(tx).replacePasswordHash(
        userId,
        user.hashedPassword,
        hashedPassword,
        this.clock.now(),
      );
      if (!replaced) {
        throw new AuthError('INVALID_CREDENTIALS', undefined, { reason: 'PASSWORD_CHANGED', userId });
      }
      // A reset token asked for before the change must not be able to overwrite the new password later.
      await new ResetTokenRepository(tx).deleteAllForUser(userId);
      await new SessionRepository(tx).deleteAllForUserExcept(userId, keepSessionId);
      await enqueueIn(tx, notice, toPublicUser(user), this.clock.now());
    });
    return toPublicUser(user);
  }

  /** A user's live sessions, newest first. */
  async listSessions(userId: number): Promise<SessionInfo[]> {
    const sessions = await this.sessions().listForUser(userId, this.clock.now());
    return sessions.map((session) => ({
      sessionId: session.id,
      publicId: session.publicId,
      createdAt: session.createdAt,
      lastSeenAt: session.lastSeenAt,
      expiresAt: session.expiresAt,
      userAgent: session.userAgent,
      ip: session.ip,
    }));
  }

  /** Ends one of the user's own sessions by its public id; false (and nothing changes) for any other id. */
  async revokeSession(userId: number, publicId: string): Promise<boolean> {
    return (await this.sessions().deleteByPublicId(userId, publicId)) > 0;
  }

  /** Ends every session of the user, the current one included; returns how many live ones ended. */
  logoutEverywhere(userId: number): Promise<number> {
    return this.sessions().deleteAllForUserCountingLive(userId, this.clock.now());
  }

  /**
   * Removes what has expired, in batches of `batchSize` rows per statement so that no statement holds the
   * database for long: sessions past their expiry and reset tokens past theirs.
   * @returns how many sessions and reset tokens were removed.
   */
  async removeExpired(batchSize: number): Promise<{ sessions: number; resetTokens: number }> {
    const now = this.clock.now();
    const sessions = await drain(() => this.sessions().deleteExpired(now, batchSize), batchSize);
    const resetTokens = await drain(() => this.resetTokens().deleteExpired(now, batchSize), batchSize);
    return { sessions, resetTokens };
  }

  /** The user a session token belongs to, or null (unknown, expired or malformed token). */
  async getUserFromSessionId(token: unknown): Promise<PublicUser | null> {
    return (await this.validateSession(token))?.user ?? null;
  }

  /**
   * Checks a session token: null when it is malformed, unknown or expired (idle or absolute).
   * Extends the sliding expiry at most once per touch interval, so most requests are one read and no write.
   */
  async validateSession(token: unknown): Promise<ValidSession | null> {
    // Malformed values never reach the database: it saves a query and keeps garbage out of SQL parameters.
    if (!isWellFormedToken(token)) return null;
    const record = await this.sessionStore.findByTokenHash(hashToken(token));
    if (record === null) return null;

    const now = this.clock.now();
    // The stored expiry was computed with the lifetimes of its day; checking today's lifetimes as well makes a
    // lowered idle or absolute TTL apply to sessions issued before the change.
    const idleEnd = addSeconds(record.lastSeenAt, this.lifetimes.sessionIdleTtlSeconds);
    const absoluteEnd = addSeconds(record.sessionCreatedAt, this.lifetimes.sessionAbsoluteTtlSeconds);
    if (now >= record.expiresAt || now >= idleEnd || now >= absoluteEnd) {
      await this.sessions().deleteById(record.sessionId);
      return null;
    }

    const user = { id: record.userId, email: record.email, createdAt: record.userCreatedAt };
    const sinceLastWriteMs = now.getTime() - record.lastSeenAt.getTime();
    const refreshed = sinceLastWriteMs >= this.lifetimes.sessionTouchIntervalSeconds * MS_PER_SECOND;
    const expiresAt = refreshed ? this.sessionExpiry(now, record.sessionCreatedAt) : record.expiresAt;
    if (refreshed) await this.sessions().touch(record.sessionId, now, expiresAt);
    const maxAgeSeconds = Math.floor((expiresAt.getTime() - now.getTime()) / MS_PER_SECOND);
    return { sessionId: record.sessionId, user, expiresAt, refreshed, maxAgeSeconds };
  }

  /**
   * Ends the session with this token (the exercise's `destroy_session`). Returns false when there was no
   * valid session to end: an expired one counts as none, as it does for every other request.
   */
  async destroySession(token: unknown): Promise<boolean> {
    const session = await this.validateSession(token);
    return session === null ? false : this.endSession(session.sessionId);
  }

  /** Ends a session already validated by the caller; returns whether it still existed. */
  async endSession(sessionId: number): Promise<boolean> {
    return (await this.sessions().deleteById(sessionId)) > 0;
  }

  /**
   * Issues a fresh reset token for a registered email, valid for the configured time. Earlier tokens stay valid
   * until they expire or one of them is used: a request anyone can make for any email must not void the link its
   * owner is about to click. The newest `lifetimes.maxLiveResetTokens` are kept. Only the token's hash is stored.
   * `mail` gives the mail carrying the token, written with it in one transaction.
   * @throws AuthError BAD_USER_INPUT (malformed email), EMAIL_NOT_REGISTERED.
   */
  async getResetPasswordToken(rawEmail: string, mail?: MailFor<ResetTokenGrant>): Promise<ResetTokenGrant> {
    const email = parseEmail(rawEmail);
    const user = await this.users().findByEmail(email);
    if (user === null) throw new AuthError('EMAIL_NOT_REGISTERED');
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
      await enqueueIn(tx, mail, grant, now);
    });
    return grant;
  }

  /**
   * Sets a new password with a reset token (the exercise's `update_password`). The token must belong to this
   * email and be unexpired; it is consumed atomically (of two concurrent uses exactly one succeeds), and every
   * session of the user ends, since a reset usually means someone else may have had the password. `notice` gives
   * the mail telling the owner, written in the same transaction as the change.
   * @throws AuthError BAD_USER_INPUT (password policy), INVALID_RESET_TOKEN.
   */
  async updatePassword(
    rawEmail: string,
    resetToken: unknown,
    newPassword: string,
    notice?: MailFor<PublicUser>,
  ): Promise<PublicUser> {
    // Named in words, not as either transport spells the field (new_password in REST, newPassword in GraphQL).
    checkNewPassword(newPassword, 'new password', rawEmail);
    if (!isWellFormedToken(resetToken)) throw new AuthError('INVALID_RESET_TOKEN');
    const tokenHash = hashToken(resetToken);
    const user = await this.findUser(rawEmail);
    // Check before hashing so that guessing tokens cannot make us burn bcrypt time; the DELETE below re-checks.
    if (user === null || !(await this.resetTokens().isLive(user.id, tokenHash, this.clock.now()))) {
      throw new AuthError('INVALID_RESET_TOKEN');
    }
    const hashedPassword = await this.passwords.hash(newPassword);
    await this.em.fork().transactional(async (tx) => {
      const now = this.clock.now();
      // The user's row first: its lock makes a concurrent reset or change of this account wait for this one (and
      // changePassword takes the same lock first, so the two never deadlock). Rolled back if the token is gone.
      await new UserRepository(tx).setPasswordHash(user.id, hashedPassword, now);
      const tokens = new ResetTokenRepository(tx);
      // Of two requests racing with one token, the second finds it deleted once the first commits, and fails.
      if (!(await tokens.consume(user.id, tokenHash, now))) throw new AuthError('INVALID_RESET_TOKEN');
      // One reset ends them all: the other links in the owner's inbox must not reset the new password again.
      await tokens.deleteAllForUser(user.id);
      await new SessionRepository(tx).deleteAllForUser(user.id);
      await enqueueIn(tx, notice, toPublicUser(user), now);
    });
    return toPublicUser(user);
  }

  /**
   * The user whose password matches, and whether it matched a hash made before NFKC normalisation. Spends exactly
   * one bcrypt compare on a plausible password (two only for input NFKC changes, known email or not).
   * @throws AuthError INVALID_CREDENTIALS, with the reason (for the security log) of which check failed.
   */
  private async checkCredentials(
    rawEmail: string,
    password: string,
  ): Promise<{ user: User; legacyHash: boolean }> {
    // A password no account can have is refused without bcrypt; above all, a password past bcrypt's 72 bytes is
    // never compared, because bcrypt would check only its first 72 bytes.
    if (!isPlausiblePassword(password)) {
      throw new AuthError('INVALID_CREDENTIALS', undefined, { reason: 'IMPOSSIBLE_PASSWORD' });
    }
    const user = await this.findUser(rawEmail);
    if (user === null) {
      await this.passwords.verifyDummy(password);
      throw new AuthError('INVALID_CREDENTIALS', undefined, { reason: 'UNKNOWN_EMAIL' });
    }
    const result = await this.passwords.check(password, user.hashedPassword);
    if (result === 'mismatch') {
      throw new AuthError('INVALID_CREDENTIALS', undefined, { reason: 'WRONG_PASSWORD', userId: user.id });
    }
    return { user, legacyHash: result === 'legacy' };
  }

  /**
   * Rehashes a just-proved password when its stored hash has another cost than BCRYPT_ROUNDS or predates NFKC
   * normalisation, in the same request. Best effort: when the hashing gate is full the login still succeeds and a later one rehashes.
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

  private async startSession(user: User, device: DeviceInfo): Promise<NewSession> {
    const token = generateToken();
    const now = this.clock.now();
    const session = await this.sessions().createSession(
      user.id,
      hashToken(token),
      now,
      this.sessionExpiry(now, now),
      device,
    );
    // The idle TTL never exceeds the absolute one (config checks it), so a fresh session's cookie lives idle-TTL long.
    return {
      sessionId: session.id,
      user: toPublicUser(user),
      token,
      maxAgeSeconds: this.lifetimes.sessionIdleTtlSeconds,
    };
  }

  /** The sliding expiry: idle TTL from now, capped by the absolute TTL from login. */
  private sessionExpiry(now: Date, createdAt: Date): Date {
    const idleEnd = addSeconds(now, this.lifetimes.sessionIdleTtlSeconds);
    const absoluteEnd = addSeconds(createdAt, this.lifetimes.sessionAbsoluteTtlSeconds);
    return idleEnd < absoluteEnd ? idleEnd : absoluteEnd;
  }

  private users(): UserRepository {
    return new UserRepository(this.em.fork());
  }

  private sessions(): SessionRepository {
    return new SessionRepository(this.em.fork());
  }

  private resetTokens(): ResetTokenRepository {
    return new ResetTokenRepository(this.em.fork());
  }
}
