// The transports' way into the abusable operations: each call is counted by the rate limits before the service runs.
import { AuthError } from '../errors';
import type { AuthService, NewSession, PublicUser, ResetTokenGrant } from './auth.service';
import type { LoginAttempt, RateLimits } from './rate-limits';

/** Who is calling, as far as limits are concerned: the client address the HTTP layer trusts. */
export interface Caller {
  readonly ip: string;
}

/**
 * Login, registration and password reset as both transports call them. One gate, one set of counters: a GraphQL
 * alias, a batched operation and a REST call are each one call here, so none can get around the limits the
 * others obey. Profile and logout are not here: they cost one indexed read and need no budget.
 */
export class AuthGate {
  constructor(
    private readonly auth: AuthService,
    readonly limits: RateLimits,
  ) {}

  /** registerUser, after the per-client registration limit. */
  async register(caller: Caller, email: string, password: string): Promise<PublicUser> {
    await this.limits.startRegistration(caller.ip);
    return this.auth.registerUser(email, password);
  }

  /**
   * login, after the per-client limit and the account's back-off. A wrong password keeps the attempt counted
   * as a failure; a right one clears the account's failures; an attempt that never got a verdict on the password
   * (SERVICE_BUSY, a fault) is not held against the account.
   */
  async login(caller: Caller, email: string, password: string): Promise<NewSession> {
    const attempt: LoginAttempt = await this.limits.startLogin(caller.ip, email);
    let session: NewSession;
    try {
      session = await this.auth.login(email, password);
    } catch (error) {
      if (!(error instanceof AuthError && error.code === 'INVALID_CREDENTIALS')) await attempt.abandoned();
      throw error;
    }
    await attempt.succeeded();
    return session;
  }

  /** getResetPasswordToken, after the per-client and per-account reset-request limits. */
  async requestPasswordReset(caller: Caller, email: string): Promise<ResetTokenGrant> {
    await this.limits.startResetRequest(caller.ip, email);
    return this.auth.getResetPasswordToken(email);
  }

  /**
   * updatePassword. Not rate limited: a reset token is 256 random bits, so guessing one is hopeless, and a wrong
   * token is refused before any bcrypt work. A completed reset ends the account's login back-off: its owner has
   * just proved control of it.
   */
  async resetPassword(email: string, resetToken: string, newPassword: string): Promise<PublicUser> {
    const user = await this.auth.updatePassword(email, resetToken, newPassword);
    await this.limits.clearLoginFailures(user.email);
    return user;
  }
}
