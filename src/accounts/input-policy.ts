// The input policy for emails and passwords: pure checks shared by both transports.
import { fail, succeed, type Failure, type Result } from '../errors';
import { EMAIL_MAX_LENGTH } from '../entities/user.entity';
import { isCommonPassword } from './common-passwords';
import { parseMailbox } from './mailbox';

/** bcrypt silently ignores bytes past 72, so a longer password would be only partly checked: refuse it instead. */
export const PASSWORD_MAX_BYTES = 72;
/** Shortest password accepted, in UTF-8 bytes. */
export const PASSWORD_MIN_BYTES = 8;
/** A local part shorter than this is too common a substring to forbid inside passwords ("jo" is in "join"). */
const LOCAL_PART_MIN_CHECKED = 3;

/**
 * The form a password is hashed and compared in: Unicode NFKC, so that the same characters typed on different
 * keyboards or systems (composed "é" or "e" + combining accent, full-width digits) are the same password. Never
 * trimmed and never case-folded: both would throw away strength the user chose.
 */
export function normalisePassword(password: string): string {
  return password.normalize('NFKC');
}

// Whitespace, C0/C1 controls and U+2028/2029 never belong in an address and are a classic header-injection tool.
const FORBIDDEN_EMAIL_CHARS = /[\s\p{Cc}]/u;

/** The trimmed, lower-cased form emails were stored in before they had to be one mailbox (see lookupEmail). */
export function normaliseEmail(raw: string): string {
  return raw.trim().toLowerCase();
}

/** Whether an email passed the policy accounts were registered under before mailboxes were parsed. */
function isLegacyEmail(email: string): boolean {
  if (email === '' || [...email].length > EMAIL_MAX_LENGTH) return false;
  if (!email.isWellFormed() || FORBIDDEN_EMAIL_CHARS.test(email)) return false;
  const parts = email.split('@');
  return parts.length === 2 && parts[0] !== '' && parts[1] !== '';
}

/**
 * Checks an email for registration and reset requests, and returns its canonical form: exactly one RFC 5321
 * mailbox (see mailbox.ts), NFC, lower-cased, its domain in IDNA ASCII form. Anything mail software could read as
 * several addresses, a display name or a comment is refused, so an account always names one inbox, and lookalike
 * spellings of one address are one account.
 * Refused input is BAD_USER_INPUT with a message saying what is wrong.
 */
export function parseEmail(raw: string): Result<string> {
  const mailbox = parseMailbox(raw);
  return mailbox.ok ? succeed(mailbox.address) : fail('BAD_USER_INPUT', mailbox.problem);
}

/**
 * Whether an email is exactly one mailbox in its canonical form: what mail may be sent to. An account stored
 * before mailboxes were parsed may hold something else (a migration lists those), and gets no mail.
 */
export function isCanonicalMailbox(email: string): boolean {
  const mailbox = parseMailbox(email);
  return mailbox.ok && mailbox.address === email;
}

/**
 * The form to look an account up by, or null for input no account can have. Lookups (login, reset, limits, the
 * security log) use it so that input no account can have never reaches a query: that saves the query, and it
 * keeps bytes such as NUL or lone surrogates away from the database driver, which would cut the statement short or
 * turn them into U+FFFD. A mailbox gives its canonical form, as registration stores it. Other input gives its old
 * trimmed, lower-cased form if the old policy accepted it: accounts registered before the mailbox rule whose email
 * is not one mailbox were kept as they were (the migration reports them), and their owners can still sign in.
 */
export function lookupEmail(raw: string): string | null {
  const mailbox = parseMailbox(raw);
  if (mailbox.ok) return mailbox.address;
  const legacy = normaliseEmail(raw);
  return isLegacyEmail(legacy) ? legacy : null;
}

/**
 * The spelling an account kept from before the mailbox rule may hold for this input, when it differs from the
 * canonical form lookupEmail gives: its old trimmed, lower-cased form. Null when there is no such second spelling,
 * which is every input a new account could have been registered with.
 *
 * The migration left an account untouched when its canonical form was already another account's (`"a"@x` beside
 * `a@x`, NFD beside NFC): looked up by the canonical form alone, its owner would reach the other account and never
 * their own, so login tries this exact spelling first.
 */
export function legacySpellingOf(raw: string): string | null {
  const canonical = lookupEmail(raw);
  const legacy = normaliseEmail(raw);
  return canonical === null || legacy === canonical || !isLegacyEmail(legacy) ? null : legacy;
}

/**
 * Checks a new password, in its NFKC form: well-formed Unicode, 8 to 72 UTF-8 bytes, no NUL character, not a
 * common password, and not the email's name. Never trimmed: spaces are part of a password.
 * @param email the account's email, when known, so the password cannot be or contain its local part.
 * @returns null for an acceptable password, else BAD_USER_INPUT with a message saying what is wrong.
 */
export function checkNewPassword(rawPassword: string, field = 'password', email?: string): Failure | null {
  // Unpaired UTF-16 surrogates all encode to the same U+FFFD bytes, so "\ud800x" and "\udfffx" would hash alike.
  if (!rawPassword.isWellFormed()) return fail('BAD_USER_INPUT', `${field} must be valid Unicode text`);
  // Measured after normalising, since that is what bcrypt gets; NFKC can lengthen a string.
  const password = normalisePassword(rawPassword);
  const bytes = Buffer.byteLength(password, 'utf8');
  if (bytes < PASSWORD_MIN_BYTES) {
    return fail('BAD_USER_INPUT', `${field} must be at least ${PASSWORD_MIN_BYTES} bytes long`);
  }
  if (bytes > PASSWORD_MAX_BYTES) {
    return fail(
      'BAD_USER_INPUT',
      `${field} must be at most ${PASSWORD_MAX_BYTES} bytes long in UTF-8 (bcrypt ignores anything longer)`,
    );
  }
  // bcrypt's C core stops at the first NUL byte, so "abc\0anything" would hash as "abc": refuse it.
  if (password.includes('\0')) return fail('BAD_USER_INPUT', `${field} must not contain NUL characters`);
  // Attackers try the most common passwords first, on every account: one on the list falls in seconds.
  if (isCommonPassword(password)) {
    return fail('BAD_USER_INPUT', `${field} is too common: it is on a list of frequently used passwords`);
  }
  // The email's name is the first thing anyone who knows the email will try.
  const lower = password.toLowerCase();
  for (const name of localPartNames(email)) {
    if (lower.includes(name)) {
      return fail('BAD_USER_INPUT', `${field} must not contain the name of the email address`);
    }
  }
  return null;
}

/** The email's local part, and the part before a "+tag", that are long enough to check (lower-case). */
function localPartNames(email: string | undefined): string[] {
  if (email === undefined) return [];
  // In NFKC like the password, so a local part typed in full-width letters is still found in one.
  const local = (normaliseEmail(email).split('@')[0] ?? '').normalize('NFKC');
  const names = [local, local.split('+')[0] ?? ''];
  return [...new Set(names)].filter((name) => [...name].length >= LOCAL_PART_MIN_CHECKED);
}

/**
 * Whether a password could have passed `checkNewPassword`. Login uses it to refuse impossible passwords
 * without spending a bcrypt compare, and to never compare a truncated prefix (bcrypt's 72-byte limit).
 */
export function isPlausiblePassword(rawPassword: string): boolean {
  if (!rawPassword.isWellFormed()) return false;
  const password = normalisePassword(rawPassword);
  const bytes = Buffer.byteLength(password, 'utf8');
  return bytes >= PASSWORD_MIN_BYTES && bytes <= PASSWORD_MAX_BYTES && !password.includes('\0');
}
