// The session cookie's exact Set-Cookie strings, and reading the token back from a Cookie header.
import {
  SESSION_COOKIE_NAME,
  clearedSessionCookie,
  readSessionCookie,
  sessionCookie,
} from '../../src/http/cookies';

const TOKEN = 'AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCd';
const IDLE_TTL_SECONDS = 604800;

describe('sessionCookie', () => {
  it('is named session_id', () => {
    expect(SESSION_COOKIE_NAME).toBe('session_id');
  });

  it('writes the exact contract attributes without Secure', () => {
    expect(sessionCookie(TOKEN, IDLE_TTL_SECONDS, false)).toBe(
      `session_id=${TOKEN}; Path=/; HttpOnly; SameSite=Lax; Max-Age=604800`,
    );
  });

  it('appends Secure when configured', () => {
    expect(sessionCookie(TOKEN, IDLE_TTL_SECONDS, true)).toBe(
      `session_id=${TOKEN}; Path=/; HttpOnly; SameSite=Lax; Max-Age=604800; Secure`,
    );
  });
});

describe('clearedSessionCookie', () => {
  it('empties the cookie with Max-Age=0 and an Expires in the past', () => {
    expect(clearedSessionCookie(false)).toBe(
      'session_id=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT',
    );
  });

  it('keeps Secure when configured, so the browser matches the cookie it set', () => {
    expect(clearedSessionCookie(true)).toBe(
      'session_id=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure',
    );
  });
});

describe('readSessionCookie', () => {
  it.each([
    ['no Cookie header', undefined, undefined],
    ['an empty Cookie header', '', undefined],
    ['only other cookies', 'theme=dark; lang=fr', undefined],
    ['a cookie whose name merely contains session_id', 'my_session_id=abc', undefined],
    ['the session cookie alone', `session_id=${TOKEN}`, TOKEN],
    ['the session cookie among others', `theme=dark; session_id=${TOKEN}; lang=fr`, TOKEN],
    ['an empty session cookie', 'session_id=', ''],
  ])('reads %s as %j', (_case, header, expected) => {
    expect(readSessionCookie(header)).toBe(expected);
  });
});
