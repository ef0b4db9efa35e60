// The text of every email the service sends: reset links and "your password changed" notices.
import type { MailMessage } from './mailer';

/** Where a change came from, as shown to the account's owner. */
export interface ChangeOrigin {
  readonly at: Date;
  readonly ip: string | null;
  readonly userAgent: string | null;
}

/** The reset link for `token`: RESET_URL_TEMPLATE with {token} and {email} filled in, URL-encoded. */
export function resetUrl(template: string, email: string, token: string): string {
  return template
    .replaceAll('{token}', encodeURIComponent(token))
    .replaceAll('{email}', encodeURIComponent(email));
}

/** The email carrying a reset link. The token appears only in the link and the text below it. */
export function resetEmail(email: string, token: string, template: string, ttlSeconds: number): MailMessage {
  const minutes = Math.round(ttlSeconds / 60);
  return {
    to: email,
    subject: 'Reset your password',
    text:
      `Someone asked to reset the password of ${email}.\n\n` +
      `To choose a new password, open this link within ${minutes} minutes:\n${resetUrl(template, email, token)}\n\n` +
      `Or use this reset token: ${token}\n\n` +
      `If this wasn't you, ignore this email: your password stays as it is.\n`,
  };
}

function originLines(origin: ChangeOrigin): string {
  return (
    `When: ${origin.at.toISOString()}\n` +
    `From: ${origin.ip ?? 'unknown address'}\n` +
    `Device: ${origin.userAgent ?? 'unknown'}\n`
  );
}

/** The notice sent after a signed-in user changed their password. */
export function passwordChangedNotice(email: string, origin: ChangeOrigin): MailMessage {
  return {
    to: email,
    subject: 'Your password was changed',
    text:
      `The password of ${email} was just changed, and every other session was signed out.\n\n` +
      originLines(origin) +
      `\nIf this wasn't you, reset your password now and review your sessions.\n`,
  };
}

/** The notice sent after a password was reset with a reset token. */
export function passwordResetNotice(email: string, origin: ChangeOrigin): MailMessage {
  return {
    to: email,
    subject: 'Your password was reset',
    text:
      `The password of ${email} was just reset with a reset link, and every session was signed out.\n\n` +
      originLines(origin) +
      `\nIf this wasn't you, reset your password now: someone may have access to your email.\n`,
  };
}
