// The input policy for emails and passwords: normalisation, the exact refusal messages, and UTF-8 byte counting.
import { checkNewPassword, isPlausiblePassword, normaliseEmail, parseEmail } from '../../src/accounts';

const SHAPE_MESSAGE = 'email must have exactly one @ with a name before it and a domain after it';
const CHARACTERS_MESSAGE = 'email must not contain spaces or control characters';
const TOO_SHORT = 'password must be at least 8 bytes long';
const TOO_LONG = 'password must be at most 72 bytes long in UTF-8 (bcrypt ignores anything longer)';
const HAS_NUL = 'password must not contain NUL characters';

/** A domain of exactly `length` characters, in labels of at most 63 (DNS's limit), ending in ".com". */
function domainOfLength(length: number): string {
  const labels: string[] = [];
  let left = length - '.com'.length;
  // A 62-character label and its dot take 63; what is left (1 to 63 characters) is the last label.
  for (; left > 63; left -= 63) labels.push('d'.repeat(62));
  labels.push('d'.repeat(left));
  return `${labels.join('.')}.com`;
}

/** An address of exactly `length` characters: the longest local part a mailbox may have (64), then a domain. */
function emailOfLength(length: number): string {
  return `${'a'.repeat(64)}@${domainOfLength(length - 65)}`;
}

describe('normaliseEmail', () => {
  it.each([
    ['  Someone@Example.COM \n', 'someone@example.com'],
    ['already@normal.org', 'already@normal.org'],
    ['\tJOSÉ@EXAMPLE.COM', 'josé@example.com'],
    ['   ', ''],
  ])('turns %j into %j', (raw, expected) => {
    expect(normaliseEmail(raw)).toBe(expected);
  });
});

describe('parseEmail', () => {
  it.each([
    ['trims and lower-cases', '  Someone@Example.COM  ', 'someone@example.com'],
    ['accepts exactly 254 characters', emailOfLength(254), emailOfLength(254)],
    ['accepts a unicode local part', 'JOSÉ.Müller@example.com', 'josé.müller@example.com'],
    ['accepts plus addressing', 'a+tag@example.com', 'a+tag@example.com'],
    [
      'counts characters, not UTF-16 units',
      // 16 four-byte characters fill the local part's 64 bytes: 254 characters in all, but 270 UTF-16 units.
      `${'😀'.repeat(16)}@${domainOfLength(237)}`,
      `${'😀'.repeat(16)}@${domainOfLength(237)}`,
    ],
  ])('%s', (_case, raw, expected) => {
    expect(parseEmail(raw)).toEqual({ ok: true, value: expected });
  });

  it.each([
    ['empty', '', 'email must not be empty'],
    ['only spaces', '   ', 'email must not be empty'],
    ['255 characters', emailOfLength(255), 'email must be at most 254 characters'],
    ['two @', 'a@b@example.com', SHAPE_MESSAGE],
    ['no @', 'nobody.example.com', SHAPE_MESSAGE],
    ['an empty local part', '@example.com', SHAPE_MESSAGE],
    ['an empty domain', 'someone@', SHAPE_MESSAGE],
    ['a space', 'some one@example.com', CHARACTERS_MESSAGE],
    ['a tab', 'some\tone@example.com', CHARACTERS_MESSAGE],
    ['a newline', 'someone@example.com\nBcc: x@evil.test', CHARACTERS_MESSAGE],
    ['a NUL', 'some\0one@example.com', CHARACTERS_MESSAGE],
    ['a line separator', 'some\u2028one@example.com', CHARACTERS_MESSAGE],
    ['an unpaired high surrogate', '\ud800@example.com', 'email must be valid Unicode text'],
    ['an unpaired low surrogate', 'some\udfffone@example.com', 'email must be valid Unicode text'],
  ])('refuses an email with %s as BAD_USER_INPUT', (_case, raw, message) => {
    expect(parseEmail(raw)).toEqual({ ok: false, code: 'BAD_USER_INPUT', message });
  });
});

describe('checkNewPassword', () => {
  it.each([
    ['8 ASCII bytes', 'x'.repeat(8)],
    ['72 ASCII bytes', 'x'.repeat(72)],
    ['36 two-byte characters (72 bytes)', 'é'.repeat(36)],
    ['18 four-byte characters (72 bytes)', '😀'.repeat(18)],
    ['leading and trailing spaces', '  padded password  '],
    ['only spaces', ' '.repeat(8)],
  ])('accepts %s', (_case, password) => {
    expect(checkNewPassword(password)).toBeNull();
  });

  it.each([
    ['7 ASCII bytes', 'x'.repeat(7), TOO_SHORT],
    ['the empty string', '', TOO_SHORT],
    ['73 ASCII bytes', 'x'.repeat(73), TOO_LONG],
    ['37 two-byte characters (74 bytes)', 'é'.repeat(37), TOO_LONG],
    ['71 ASCII bytes and one two-byte character (73 bytes)', `${'x'.repeat(71)}é`, TOO_LONG],
    ['a NUL character', 'abcd\0efgh', HAS_NUL],
    ['unpaired surrogates', '\ud800\ud800\ud800pass', 'password must be valid Unicode text'],
  ])('refuses %s as BAD_USER_INPUT', (_case, password, message) => {
    expect(checkNewPassword(password)).toEqual({ ok: false, code: 'BAD_USER_INPUT', message });
  });

  it('names the field it was given in the message', () => {
    expect(checkNewPassword('short', 'new_password')).toMatchObject({
      code: 'BAD_USER_INPUT',
      message: 'new_password must be at least 8 bytes long',
    });
    expect(checkNewPassword('x'.repeat(73), 'newPassword')).toMatchObject({
      message: 'newPassword must be at most 72 bytes long in UTF-8 (bcrypt ignores anything longer)',
    });
    expect(checkNewPassword('abcd\0efgh', 'newPassword')).toMatchObject({
      message: 'newPassword must not contain NUL characters',
    });
  });
});

describe('isPlausiblePassword', () => {
  it.each([
    ['8 ASCII bytes', 'x'.repeat(8), true],
    ['7 ASCII bytes', 'x'.repeat(7), false],
    ['72 ASCII bytes', 'x'.repeat(72), true],
    ['73 ASCII bytes', 'x'.repeat(73), false],
    ['36 two-byte characters (72 bytes)', 'é'.repeat(36), true],
    ['37 two-byte characters (74 bytes)', 'é'.repeat(37), false],
    ['a NUL character', 'abcd\0efgh', false],
    ['unpaired surrogates', '\udfff\udfff\udfffpass', false],
    ['a well-formed surrogate pair (emoji)', '😀😀password', true],
    ['leading and trailing spaces', '  padded password  ', true],
    ['the empty string', '', false],
  ])('judges %s as %s, as checkNewPassword does', (_case, password, plausible) => {
    expect(isPlausiblePassword(password)).toBe(plausible);
    expect(checkNewPassword(password) === null).toBe(plausible);
  });
});
