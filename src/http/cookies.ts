// The session cookie: how it is written, cleared and read, with the attributes the exercise's contract fixes.
import { parse } from 'cookie';

/** The exercise's cookie name; curl users pass it with `-b "session_id=..."`. */
export const SESSION_COOKIE_NAME = 'session_id';

/**
 * The name with the `__Host-` prefix: browsers accept such a cookie only with Secure, Path=/ and no Domain, so
 * no sibling subdomain (or a plain-HTTP page on ours) can set or shadow it.
 */
export const HOST_PREFIXED_SESSION_COOKIE_NAME = `__Host-${SESSION_COOKIE_NAME}`;

/** COOKIE_SAME_SITE, as the attribute spells it. */
export type SameSite = 'Lax' | 'Strict' | 'None';

/** How the session cookie is sent: COOKIE_SECURE, COOKIE_SAME_SITE and COOKIE_HOST_PREFIX. */
export interface CookiePolicy {
  readonly secure: boolean;
  readonly sameSite: SameSite;
  readonly hostPrefix: boolean;
}

/** The exercise's cookie: `session_id`, SameSite=Lax, Secure as asked. */
export function exerciseCookiePolicy(secure: boolean): CookiePolicy {
  return { secure, sameSite: 'Lax', hostPrefix: false };
}

/**
 * The session cookie under one policy. HttpOnly keeps the token away from page scripts (XSS cannot steal it) and
 * Path=/ because both /graphql and the REST routes need it. SameSite=Lax (the default) keeps other sites' forms and
 * fetches from sending it (CSRF); Strict also drops it on links from other sites; None lets an app on another site
 * use the API with credentials, so config allows it only with Secure and CORS_ORIGINS, and cross-site writes
 * from unlisted origins stay refused (request-checks.ts). Attributes are in the order of the exercise's contract;
 * the token is base64url, which needs no cookie encoding.
 */
export class SessionCookie {
  /** The cookie's name: `session_id`, or `__Host-session_id` with COOKIE_HOST_PREFIX. */
  readonly name: string;
  private readonly attributes: string;
  private readonly secureSuffix: string;

  constructor(policy: CookiePolicy) {
    this.name = policy.hostPrefix ? HOST_PREFIXED_SESSION_COOKIE_NAME : SESSION_COOKIE_NAME;
    this.attributes = `Path=/; HttpOnly; SameSite=${policy.sameSite}`;
    this.secureSuffix = policy.secure ? '; Secure' : '';
  }

  /** The Set-Cookie value for a session. */
  set(token: string, maxAgeSeconds: number): string {
    return `${this.name}=${token}; ${this.attributes}; Max-Age=${maxAgeSeconds}${this.secureSuffix}`;
  }

  /** The Set-Cookie value that removes the session cookie (Expires as well, for clients that ignore Max-Age). */
  cleared(): string {
    return `${this.name}=; ${this.attributes}; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT${this.secureSuffix}`;
  }

  /** The session token from a Cookie header, or undefined. Shape checks happen in the service. */
  read(cookieHeader: string | undefined): string | undefined {
    if (cookieHeader === undefined || !cookieHeader.includes(this.name)) return undefined;
    return parse(cookieHeader)[this.name];
  }
}

const EXERCISE_COOKIES = {
  secure: new SessionCookie(exerciseCookiePolicy(true)),
  plain: new SessionCookie(exerciseCookiePolicy(false)),
};

/** The exercise's Set-Cookie value for a session (`session_id`, SameSite=Lax). */
export function sessionCookie(token: string, maxAgeSeconds: number, secure: boolean): string {
  return (secure ? EXERCISE_COOKIES.secure : EXERCISE_COOKIES.plain).set(token, maxAgeSeconds);
}

/** The exercise's Set-Cookie value that removes the session cookie. */
export function clearedSessionCookie(secure: boolean): string {
  return (secure ? EXERCISE_COOKIES.secure : EXERCISE_COOKIES.plain).cleared();
}

/** The exercise's session token from a Cookie header, or undefined. */
export function readSessionCookie(cookieHeader: string | undefined): string | undefined {
  return EXERCISE_COOKIES.plain.read(cookieHeader);
}
