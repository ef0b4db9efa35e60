// What every resolver receives: the request's logger and the caller's session, with no HTTP types leaking in.
import type { Caller, NewSession, ValidSession } from '../operations';

/** The per-request context handed to resolvers; the HTTP layer builds it from the request and reply. */
export interface GraphQLContext {
  /** The request's logger (it carries the request id). */
  readonly log: Caller['log'];
  /** The request's id, as in its log lines and X-Request-Id; internal errors carry it. */
  readonly requestId: string;
  /** Who is calling, for the rate limits. */
  readonly caller: Caller;
  /** The session cookie's value as the client sent it, if any (a login ends the session it names). */
  sessionToken(): string | undefined;
  /** The caller's valid session, or null; looked up on first use only. */
  session(): Promise<ValidSession | null>;
  /** Hands a new session to the client (the same session_id cookie as POST /sessions). */
  startSession(session: NewSession): void;
  /** Ends the caller's session, if valid, and clears the cookie; returns whether one ended. */
  endSession(): Promise<boolean>;
  /** Tells the client to drop its session cookie (after its session was ended some other way). */
  clearSessionCookie(): void;
}
