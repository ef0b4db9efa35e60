// The use cases both transports call: limits first, then the account or session service, then the security log and mail.
import { fail, failRetryLater, succeed, type Failure, type Result } from '../errors';
import type { SecurityEvent } from '../entities/security-event.entity';
import {
  isCanonicalMailbox,
  isCredentialsRefused,
  lookupEmail,
  parseEmail,
  type AccountService,
  type ResetTokenGrant,
} from '../accounts';
import type { LoginAttempt, RateLimits } from '../abuse';
import type { SecurityLog } from '../audit';
import {
  passwordChangedNotice,
  passwordResetNotice,
  resetEmail,
  type MailMessage,
  type MailOutbox,
  type OutgoingMail,
} from '../mail';
import type { NewSession, SessionInfo, SessionService, ValidSession } from '../sessions';
import type { BackgroundWork, Clock, Logger, PublicUser } from '../shared';

/** How long a client told SERVICE_BUSY because the background work is full should wait: it drains in seconds. */
const BACKGROUND_FULL_RETRY_MS = 5_000;
/**
 * How long a notice ("your password was changed") is worth sending: a day of retries covers a mail server's
 * outage; a notice arriving days after the change helps nobody and would only confuse.
 */
const NOTICE_TTL_MS = 24 * 60 * 60 * 1000;

/** Who is calling: the client address the HTTP layer trusts, its user agent, and the request's logger. */
export interface Caller {
  readonly ip: string;
  readonly userAgent: string | null;
  /** The request's logger: it carries the request id, so a mail failure can be traced to its request. */
  readonly log: Logger;
  /** The request id, kept with the mail a request causes so that the worker's log lines carry it too. */
  readonly requestId?: string;
}

/** How reset tokens reach their owner, and what the service needs to send mail. */
export interface Delivery {
  readonly resetTokens: 'response' | 'email';
  /** The outbox and its worker, or null when no mail server is configured (then no notices go out). */
  readonly outbox: MailOutbox | null;
  readonly resetUrlTemplate: string;
  readonly resetTokenTtlSeconds: number;
}

/** The answer to a reset request: the token itself only when tokens are delivered in the response. */
export interface ResetRequestAnswer {
  readonly email: string;
  readonly resetToken: string | null;
}

/** Dependencies of the use cases, wired by the composition root. */
export interface AuthOperationsDeps {
  readonly accounts: AccountService;
  readonly sessions: SessionService;
  readonly limits: RateLimits;
  readonly securityLog: SecurityLog;
  readonly delivery: Delivery;
  readonly clock: Clock;
  /** Where work that the answer must not wait for runs (reset issuance by email). */
  readonly background: BackgroundWork;
}

/**
 * Every account and session operation as both transports call it: the one door below the transports. One set of
 * counters: a GraphQL alias, a batched operation and a REST call are each one call here, so none can get around the
 * limits the others obey. It also writes the security log and the emails (to the outbox, with the change), so
 * neither transport can forget one. Expected failures come back as values (see Result); only faults are thrown.
 */
export class AuthOperations {
  private readonly accounts: AccountService;
  private readonly sessions: SessionService;
  private readonly limits: RateLimits;
  private readonly securityLog: SecurityLog;
  private readonly delivery: Delivery;
  private readonly clock: Clock;
  private readonly background: BackgroundWork;

  constructor(deps: AuthOperationsDeps) {
    this.accounts = deps.accounts;
    this.sessions = deps.sessions;
    this.limits = deps.limits;
    this.securityLog = deps.securityLog;
    this.delivery = deps.delivery;
    this.clock = deps.clock;
    this.background = deps.background;
  }

  /** The session a cookie names, or null: the authenticated read every signed-in request starts with. */
  validateSession(token: unknown): Promise<ValidSession | null> {
    return this.sessions.validateSession(token);
  }

  /** registerUser, after the per-client registration limit. */
  async register(caller: Caller, email: string, password: string): Promise<Result<PublicUser>> {
    const refusal = await this.limits.startRegistration(caller.ip);
    if (refusal !== null) return this.tallied(caller, 'REGISTER', refusal, { email });
    const registered = await this.accounts.register(email, password);
    if (!registered.ok) return registered;
    const user = registered.value;
    await this.securityLog.record(caller, 'REGISTERED', { userId: user.id, email: user.email });
    return registered;
  }

  /**
   * login, after the per-client limit and the account's back-off. A wrong password keeps the attempt counted
   * as a failure; a right one clears the account's failures; an attempt that never got a verdict on the password
   * (SERVICE_BUSY, a fault) is not held against the account.
   *
   * `priorToken` is the session cookie the client sent with the login, if any. A successful login ends that
   * session (ASVS 7.2.4): the client is about to replace its cookie, and a session left behind would stay valid
   * for weeks in a jar nobody looks at, also when the new login is another user (a shared computer). A failed
   * login leaves it alone.
   */
  async login(
    caller: Caller,
    email: string,
    password: string,
    priorToken?: string,
  ): Promise<Result<NewSession>> {
    const admitted = await this.limits.startLogin(caller.ip, email);
    if (!admitted.ok) return this.tallied(caller, 'LOGIN', admitted, { email });
    const login = await this.judged(caller, email, admitted.value, () =>
      this.accounts.login(email, password, { ip: caller.ip, userAgent: caller.userAgent }),
    );
    if (!login.ok) return login;
    await this.securityLog.record(caller, 'LOGIN_SUCCEEDED', { userId: login.value.user.id, email });
    if (priorToken !== undefined) await this.endReplacedSession(caller, priorToken);
    return login;
  }

  /** Ends the session a new login replaces, recorded as a logout of its own user (who may be someone else). */
  private async endReplacedSession(caller: Caller, token: string): Promise<void> {
    const replaced = await this.sessions.validateSession(token);
    if (replaced === null || !(await this.sessions.endSession(replaced.sessionId))) return;
    await this.securityLog.record(caller, 'LOGGED_OUT', {
      userId: replaced.user.id,
      email: replaced.user.email,
      reason: 'REPLACED_BY_LOGIN',
    });
  }

  /** Ends the session with this token; records it when one ended. False when there was no valid session. */
  async logout(caller: Caller, token: unknown): Promise<boolean> {
    // One lookup: the session is validated once and ended by id, not looked up again by destroySession.
    const session = await this.sessions.validateSession(token);
    if (session === null || !(await this.sessions.endSession(session.sessionId))) return false;
    await this.securityLog.record(caller, 'LOGGED_OUT', {
      userId: session.user.id,
      email: session.user.email,
    });
    return true;
  }

  /**
   * Issues a reset token after the per-client and per-account limits. With response delivery the token is in the
   * answer (the exercise's development behaviour). With email delivery the answer is the same for registered and
   * unregistered emails, and it is decided before any work that depends on the email: issuing the token, recording
   * the event and handing the mail over run after the answer, so its timing reveals nothing about who has an
   * account either. A malformed email is refused at once in both modes; that says nothing about any account.
   */
  async requestPasswordReset(caller: Caller, email: string): Promise<Result<ResetRequestAnswer>> {
    const byEmail = this.delivery.resetTokens === 'email';
    // SERVICE_BUSY while the background work is full (a stalled database): checked before the limits too, so a
    // client told to come back later has not spent its reset budget on being told so.
    if (byEmail && this.backgroundFull()) return failRetryLater('SERVICE_BUSY', BACKGROUND_FULL_RETRY_MS);
    const refusal = await this.limits.startResetRequest(caller.ip, email);
    if (refusal !== null) return this.tallied(caller, 'RESET_REQUEST', refusal, { email });
    if (!byEmail) return this.issueResetInAnswer(caller, email);
    const parsed = parseEmail(email);
    if (!parsed.ok) return parsed;
    const normalised = parsed.value;
    // Taken or refused before anything depends on the email, so a full queue answers every email alike.
    const taken = this.background.offer(caller.log, 'reset request', () =>
      this.issueResetByEmail(caller, normalised),
    );
    if (!taken) return failRetryLater('SERVICE_BUSY', BACKGROUND_FULL_RETRY_MS);
    return succeed({ email: normalised, resetToken: null });
  }

  private backgroundFull(): boolean {
    return this.background.pending >= this.background.maxPending;
  }

  /** Response delivery: the token, or EMAIL_NOT_REGISTERED, is the answer itself. */
  private async issueResetInAnswer(caller: Caller, email: string): Promise<Result<ResetRequestAnswer>> {
    const grant = await this.accounts.issueResetToken(email);
    if (grant.ok) {
      await this.securityLog.record(caller, 'PASSWORD_RESET_REQUESTED', {
        userId: grant.value.userId,
        email,
      });
    } else if (grant.code === 'EMAIL_NOT_REGISTERED') {
      await this.securityLog.record(caller, 'PASSWORD_RESET_REQUESTED', { email, reason: 'UNKNOWN_EMAIL' });
    }
    return grant;
  }

  /** Email delivery, after the answer: a token and its mail for a registered email, an event either way. */
  private async issueResetByEmail(caller: Caller, email: string): Promise<void> {
    // The token and its mail are written in one transaction: neither exists without the other.
    const grant = await this.accounts.issueResetToken(email, (issued) => this.resetMail(caller, issued));
    if (!grant.ok) {
      // The email was parsed before the answer, so nothing but an unknown email can fail here.
      await this.securityLog.record(caller, 'PASSWORD_RESET_REQUESTED', { email, reason: 'UNKNOWN_EMAIL' });
      return;
    }
    this.delivery.outbox?.kick();
    await this.securityLog.record(caller, 'PASSWORD_RESET_REQUESTED', { userId: grant.value.userId, email });
  }

  /** The reset mail for a grant: it expires with its token, since a dead link is worth nobody's inbox. */
  private resetMail(caller: Caller, grant: ResetTokenGrant): OutgoingMail | null {
    const { resetUrlTemplate, resetTokenTtlSeconds } = this.delivery;
    const message = resetEmail(grant.email, grant.resetToken, resetUrlTemplate, resetTokenTtlSeconds);
    return this.mailFor(caller, 'reset', message, grant.expiresAt);
  }

  /** A notice to the account's owner, worth sending for a day. */
  private notice(caller: Caller, kind: string, message: MailMessage): OutgoingMail | null {
    return this.mailFor(caller, kind, message, new Date(this.clock.now().getTime() + NOTICE_TTL_MS));
  }

  /**
   * The outbox entry for a message, or null when it must not or cannot be sent. Mail is written, never sent,
   * here: the worker sends it once the change has committed (see MailOutbox).
   */
  private mailFor(caller: Caller, kind: string, message: MailMessage, expiresAt: Date): OutgoingMail | null {
    if (this.delivery.outbox === null) {
      // Only reset links must go out; notices are simply not sent where no mail server is configured.
      if (kind === 'reset')
        caller.log.error({ mail: kind }, 'no mail server configured (SMTP_URL): email not sent');
      return null;
    }
    // An account kept from before emails had to be one mailbox may hold `x<victim@corp.example>` or a list: mail
    // to it could reach someone else, so none is sent (the migration listed these accounts for the operator).
    if (!isCanonicalMailbox(message.to)) {
      caller.log.warn({ mail: kind }, 'account email is not a single mailbox: email not sent');
      return null;
    }
    return { kind, message, expiresAt, requestId: caller.requestId ?? null };
  }

  /**
   * updatePassword. Not rate limited: a reset token is 256 random bits, so guessing one is hopeless, and a wrong
   * token is refused before any bcrypt work. A completed reset ends the account's login back-off (its owner has
   * just proved control of the email) and sends the owner a notice.
   */
  async resetPassword(
    caller: Caller,
    email: string,
    resetToken: string,
    newPassword: string,
  ): Promise<Result<PublicUser>> {
    const reset = await this.accounts.resetPassword(email, resetToken, newPassword, (changed) =>
      this.notice(caller, 'reset notice', passwordResetNotice(changed.email, this.origin(caller))),
    );
    if (!reset.ok) return reset;
    const user = reset.value;
    this.delivery.outbox?.kick();
    await this.limits.clearLoginFailures(user.email);
    await this.securityLog.record(caller, 'PASSWORD_RESET_COMPLETED', { userId: user.id, email: user.email });
    return reset;
  }

  /**
   * changePassword for the signed-in caller. The current password is checked under the login limits (it is a
   * password guess like any other); every other session ends, this one stays, and the owner gets a notice.
   */
  async changePassword(
    caller: Caller,
    session: ValidSession,
    currentPassword: string,
    newPassword: string,
  ): Promise<Result<PublicUser>> {
    const { email } = session.user;
    const admitted = await this.limits.startLogin(caller.ip, email);
    if (!admitted.ok) {
      return this.tallied(caller, 'CHANGE_PASSWORD', admitted, { email, userId: session.user.id });
    }
    const changed = await this.judged(caller, email, admitted.value, () =>
      this.accounts.changePassword(session.user.id, currentPassword, newPassword, session.sessionId, (user) =>
        this.notice(caller, 'change notice', passwordChangedNotice(user.email, this.origin(caller))),
      ),
    );
    if (!changed.ok) return changed;
    this.delivery.outbox?.kick();
    await this.securityLog.record(caller, 'PASSWORD_CHANGED', { userId: session.user.id, email });
    return changed;
  }

  /** The caller's live sessions. */
  listSessions(session: ValidSession): Promise<SessionInfo[]> {
    return this.sessions.listSessions(session.user.id);
  }

  /** Ends one of the caller's own sessions by public id; false for any other id. */
  async revokeSession(caller: Caller, session: ValidSession, publicId: string): Promise<boolean> {
    const revoked = await this.sessions.revokeSession(session.user.id, publicId);
    if (revoked) {
      await this.securityLog.record(caller, 'SESSION_REVOKED', {
        userId: session.user.id,
        email: session.user.email,
      });
    }
    return revoked;
  }

  /** Ends every session of the caller, this one included; returns how many. */
  async logoutEverywhere(caller: Caller, session: ValidSession): Promise<number> {
    const ended = await this.sessions.logoutEverywhere(session.user.id);
    await this.securityLog.record(caller, 'LOGGED_OUT_EVERYWHERE', {
      userId: session.user.id,
      email: session.user.email,
    });
    return ended;
  }

  /** The caller's own security events, newest first. */
  securityEvents(session: ValidSession, limit: number): Promise<SecurityEvent[]> {
    return this.securityLog.listForUser(session.user.id, limit);
  }

  /**
   * Tallies a limit's refusal (RATE_LIMITED, with what was limited) and hands it back. Tallying is synchronous and
   * in memory, so a refusal stays as cheap as refusing should be (see SecurityLog.refused).
   */
  private tallied(
    caller: Caller,
    what: string,
    refusal: Failure,
    subject: { email: string; userId?: number },
  ): Failure {
    if (refusal.code === 'RATE_LIMITED') {
      this.securityLog.refused(caller, what, { email: subject.email, userId: subject.userId ?? null });
    }
    return refusal;
  }

  /**
   * Runs a password check under a login attempt: a wrong password is recorded as LOGIN_FAILED with its reason and
   * stays counted; any other failure or fault is not a verdict on the password, and gives the attempt back.
   */
  private async judged<T>(
    caller: Caller,
    email: string,
    attempt: LoginAttempt,
    run: () => Promise<Result<T>>,
  ): Promise<Result<T>> {
    let result: Result<T>;
    try {
      result = await run();
    } catch (fault) {
      await attempt.abandoned();
      throw fault;
    }
    if (result.ok) {
      await attempt.succeeded();
    } else if (isCredentialsRefused(result)) {
      const { reason, userId } = result;
      await this.securityLog.record(caller, 'LOGIN_FAILED', {
        email: lookupEmail(email),
        reason,
        ...(userId === null ? {} : { userId }),
      });
      // The client learns that the credentials were refused, and nothing of why.
      return fail('INVALID_CREDENTIALS');
    } else {
      await attempt.abandoned();
    }
    return result;
  }

  private origin(caller: Caller): { at: Date; ip: string; userAgent: string | null } {
    return { at: this.clock.now(), ip: caller.ip, userAgent: caller.userAgent };
  }
}
