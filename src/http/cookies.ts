// The session cookie: how it is written, cleared and read, with the attributes the exercise's contract fixes.
import { parse } from 'cookie';

/** The exercise's cookie name; curl users pass it with `-b "session_id=..."`. */
export const SESSION_COOKIE_NAME = 'session_id';

// HttpOnly keeps the token away from page scripts (XSS cannot steal it); SameSite=Lax stops other sites'
// forms from sending it with a POST (CSRF); Path=/ because both /graphql and the REST routes need it.
const BASE_ATTRIBUTES = 'Path=/; HttpOnly; SameSite=Lax';

/**
 * The Set-Cookie value for a session, attributes in the order of the exercise's contract.
 * The token is base64url, which needs no cookie encoding.
 */
export function sessionCookie(token: string, maxAgeSeconds: number, secure: boolean): string {
  return `${SESSION_COOKIE_NAME}=${token}; ${BASE_ATTRIBUTES}; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`;
}

/** The Set-Cookie value that removes the session cookie (Expires as well, for clients that ignore Max-Age). */
export function clearedSessionCookie(secure: boolean): string {
  return `${SESSION_COOKIE_NAME}=; ${BASE_ATTRIBUTES}; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT${secure ? '; Secure' : ''}`;
}

/** The session token from a Cookie header, or undefined. Shape checks happen in the service. */
export function readSessionCookie(cookieHeader: string | undefined): string | undefined {
  if (cookieHeader === undefined || !cookieHeader.includes(SESSION_COOKIE_NAME)) return undefined;
  return parse(cookieHeader)[SESSION_COOKIE_NAME];
}
