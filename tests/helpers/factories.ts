// Test data: unique emails per test, a valid password, and a signed-in user in one call.
import type { App } from '../../src/app';
import { sendForm, sessionCookieOf } from './http';

let counter = 0;

/** A valid password that passes the policy. */
export const PASSWORD = 'correct horse battery';
/** Another valid password, for changes. */
export const NEW_PASSWORD = 'staple tuna 42 rocket';

/** An email no other test in this process uses. */
export function uniqueEmail(prefix = 'user'): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}@example.com`;
}

/** Registers a user through the REST shim and returns its email. */
export async function registeredUser(app: App, password = PASSWORD): Promise<string> {
  const email = uniqueEmail();
  const response = await sendForm(app, 'POST', '/users', { email, password });
  if (response.statusCode !== 200) throw new Error(`registration failed: ${response.body}`);
  return email;
}

/** Registers and logs in through the REST shim; returns the email and the `session_id=...` cookie. */
export async function signedInUser(
  app: App,
  password = PASSWORD,
): Promise<{ email: string; cookie: string }> {
  const email = await registeredUser(app, password);
  const response = await sendForm(app, 'POST', '/sessions', { email, password });
  if (response.statusCode !== 200) throw new Error(`login failed: ${response.body}`);
  return { email, cookie: sessionCookieOf(response) };
}
