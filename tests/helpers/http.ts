// REST helpers: send form or JSON bodies through app.inject and carry the real session cookie back.
import type { LightMyRequestResponse } from 'fastify';
import type { App } from '../../src/app';

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** Sends a form-encoded body, as `curl -d` does, with an optional Cookie header. */
export function sendForm(
  app: App,
  method: Method,
  url: string,
  fields: Record<string, string> = {},
  cookie?: string,
): Promise<LightMyRequestResponse> {
  return app.server.inject({
    method,
    url,
    payload: new URLSearchParams(fields).toString(),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(cookie === undefined ? {} : { cookie }),
    },
  });
}

/** Sends a JSON body with an optional Cookie header. */
export function sendJson(
  app: App,
  method: Method,
  url: string,
  body: unknown,
  cookie?: string,
): Promise<LightMyRequestResponse> {
  return app.server.inject({
    method,
    url,
    payload: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...(cookie === undefined ? {} : { cookie }) },
  });
}

/** Sends a request with no body, only an optional Cookie header. */
export function sendEmpty(
  app: App,
  method: Method,
  url: string,
  cookie?: string,
): Promise<LightMyRequestResponse> {
  return app.server.inject({ method, url, headers: cookie === undefined ? {} : { cookie } });
}

/** Every Set-Cookie header of a response, as a list. */
export function setCookies(response: LightMyRequestResponse): string[] {
  const header = response.headers['set-cookie'];
  if (header === undefined) return [];
  return Array.isArray(header) ? header : [header];
}

/** The `session_id=<token>` pair a browser would send back, from the response's Set-Cookie. */
export function sessionCookieOf(response: LightMyRequestResponse): string {
  const cookie = setCookies(response).find((value) => value.startsWith('session_id='));
  if (cookie === undefined) throw new Error(`no session cookie in response (status ${response.statusCode})`);
  return cookie.split(';')[0];
}

/** The token inside a `session_id=<token>` pair. */
export function tokenOf(sessionCookie: string): string {
  return sessionCookie.slice('session_id='.length);
}

/** The Set-Cookie that removes the session cookie, exactly as the server writes it. */
export const CLEARED_SESSION_COOKIE =
  'session_id=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT';
