// The new-password policy's pure parts: NFKC, byte limits after NFKC, the common-passwords list, the email's name.
import fc from 'fast-check';
import { dictionary } from '@zxcvbn-ts/language-common';
import type { Failure } from '../../src/errors';
import { commonPasswordCount, isCommonPassword } from '../../src/accounts';
import {
  checkNewPassword,
  isPlausiblePassword,
  normalisePassword,
  PASSWORD_MAX_BYTES,
  PASSWORD_MIN_BYTES,
} from '../../src/accounts';
import { NEW_PASSWORD, PASSWORD } from '../helpers/factories';

const COMMON = 'password is too common: it is on a list of frequently used passwords';
const NAME = 'password must not contain the name of the email address';
const TOO_SHORT = 'password must be at least 8 bytes long';
const TOO_LONG = 'password must be at most 72 bytes long in UTF-8 (bcrypt ignores anything longer)';
const HAS_NUL = 'password must not contain NUL characters';
const NOT_UNICODE = 'password must be valid Unicode text';

/** The zxcvbn-ts list the service checks against, read straight from the package. */
const COMMON_LIST: readonly string[] = dictionary['passwords-common'];

/** U+FDFA ARABIC LIGATURE SALLALLAHOU ALAYHE WASALLAM: one character (3 UTF-8 bytes) whose NFKC form is 18. */
const LIGATURE = '\uFDFA';
/** "é" as one code point (U+00E9), and as "e" followed by U+0301 COMBINING ACUTE ACCENT. */
const COMPOSED_E = '\u00E9';
const DECOMPOSED_E = 'e\u0301';
/** U+FB01 LATIN SMALL LIGATURE FI: 3 UTF-8 bytes, NFKC "fi" (2 bytes). */
const FI = '\uFB01';

/** Bytes of a string in UTF-8, as bcrypt sees it. */
function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** The code and message of the refusal `check` returns; fails the test when it accepts. */
function refusalOf(check: () => Failure | null): { code: string; message: string | undefined } {
  const refusal = check();
  if (refusal === null) throw new Error('expected a refusal, the password was accepted');
  return { code: refusal.code, message: refusal.message };
}

/** What checkNewPassword says about a password: 'accepted', or its refusal message. */
function verdict(password: string, email?: string): string {
  const refusal = checkNewPassword(password, 'password', email);
  if (refusal === null) return 'accepted';
  if (refusal.code !== 'BAD_USER_INPUT' || refusal.message === undefined) throw new Error(refusal.code);
  return refusal.message;
}

/** Arbitrary passwords that mix random text with the characters the policy cares about. */
const passwordLike = fc
  .array(
    fc.oneof(
      fc.string({ unit: 'binary', maxLength: 12 }),
      fc.constantFrom(
        COMPOSED_E,
        DECOMPOSED_E,
        LIGATURE,
        FI,
        '\uFF11\uFF12\uFF13',
        '\u00A0',
        '\0',
        '\uD800',
        '\uDFFF',
        'password1',
        'PassWord1',
        'john',
      ),
    ),
    { maxLength: 8 },
  )
  .map((parts) => parts.join(''));

describe('the test factories', () => {
  it.each([
    ['PASSWORD', PASSWORD],
    ['NEW_PASSWORD', NEW_PASSWORD],
  ])('%s is not on the common list and passes the policy for a factory email', (_name, password) => {
    expect(isCommonPassword(password)).toBe(false);
    expect(verdict(password, 'user-1-1@example.com')).toBe('accepted');
  });
});

describe('normalisePassword', () => {
  it.each([
    ['a decomposed "é" to the composed one', `caf${DECOMPOSED_E}`, `caf${COMPOSED_E}`],
    ['a composed "é" as it is', `caf${COMPOSED_E}`, `caf${COMPOSED_E}`],
    ['full-width digits to ASCII digits', '\uFF11\uFF12\uFF13', '123'],
    ['full-width letters to ASCII letters, keeping case', '\uFF30\uFF41\uFF53\uFF53', 'Pass'],
    ['the "fi" ligature to "f" and "i"', `${FI}le`, 'file'],
    ['a no-break space to a space', 'two\u00A0words', 'two words'],
    [
      'U+FDFA to its 18-character expansion',
      LIGATURE,
      '\u0635\u0644\u0649 \u0627\u0644\u0644\u0647 \u0639\u0644\u064A\u0647 \u0648\u0633\u0644\u0645',
    ],
    ['leading and trailing spaces as they are (never trimmed)', '  spaced out  ', '  spaced out  '],
    ['upper and lower case as they are (never case-folded)', 'MiXeD CaSe', 'MiXeD CaSe'],
    ['ASCII as it is', PASSWORD, PASSWORD],
  ])('turns %s', (_case, raw, expected) => {
    expect(normalisePassword(raw)).toBe(expected);
  });

  it('expands U+FDFA to 18 characters and 33 UTF-8 bytes', () => {
    expect([...normalisePassword(LIGATURE)]).toHaveLength(18);
    expect(utf8Bytes(LIGATURE)).toBe(3);
    expect(utf8Bytes(normalisePassword(LIGATURE))).toBe(33);
  });

  it('is idempotent', () => {
    fc.assert(
      fc.property(passwordLike, (password) => {
        const once = normalisePassword(password);
        expect(normalisePassword(once)).toBe(once);
      }),
    );
  });
});

describe('isCommonPassword', () => {
  it.each([
    ['password', true],
    ['PASSWORD', true],
    ['PassWord1', true],
    ['qwerty123', true],
    ['P@ssw0rd', true],
    ['123456', true],
    ['iloveyou2', true],
    ['password1!', false],
    [' password', false],
    ['password ', false],
    ['', false],
    [PASSWORD, false],
    [NEW_PASSWORD, false],
  ])('says %j is %s', (password, expected) => {
    expect(isCommonPassword(password)).toBe(expected);
  });

  it('finds every entry of the list, as listed and upper-cased', () => {
    const missing = COMMON_LIST.filter(
      (entry) => !isCommonPassword(entry) || !isCommonPassword(entry.toUpperCase()),
    );
    expect(missing).toEqual([]);
  });
});

describe('commonPasswordCount', () => {
  it('counts at least 10,000 passwords, exactly the entries of the zxcvbn-ts list', () => {
    expect(commonPasswordCount()).toBeGreaterThanOrEqual(10_000);
    expect(commonPasswordCount()).toBe(COMMON_LIST.length);
  });

  it('counts distinct passwords, all lower-case and already in NFKC', () => {
    expect(new Set(COMMON_LIST).size).toBe(commonPasswordCount());
    expect(COMMON_LIST.filter((entry) => entry !== entry.toLowerCase())).toEqual([]);
    expect(COMMON_LIST.filter((entry) => entry !== normalisePassword(entry))).toEqual([]);
  });
});

describe('checkNewPassword', () => {
  it('uses the bounds 8 and 72 bytes', () => {
    expect([PASSWORD_MIN_BYTES, PASSWORD_MAX_BYTES]).toEqual([8, 72]);
  });

  it.each([
    ['the factory PASSWORD', PASSWORD],
    ['exactly 8 bytes', 'k7#Qz!v2'],
    ['exactly 72 bytes', 'x'.repeat(72)],
    ['a composed "é" in it', `caf${COMPOSED_E}-au-lait-42`],
    ['a decomposed "é" in it', `caf${DECOMPOSED_E}-au-lait-42`],
    ['full-width digits in it', 'code-\uFF11\uFF12\uFF13-word'],
    ['a common password with a character added', 'password1!'],
    ['a common password with a leading space (never trimmed)', ' password1'],
    ['two U+FDFA: 6 bytes raw, 66 bytes in NFKC', LIGATURE.repeat(2)],
    ['24 decomposed "é": 72 bytes raw, 48 in NFKC', DECOMPOSED_E.repeat(24)],
    ['25 decomposed "é": 75 bytes raw, 50 in NFKC', DECOMPOSED_E.repeat(25)],
    ['70 ASCII and a "fi" ligature: 73 bytes raw, 72 in NFKC', `${'x'.repeat(70)}${FI}`],
  ])('accepts %s', (_case, password) => {
    expect(verdict(password)).toBe('accepted');
  });

  it.each([
    ['7 bytes', 'k7#Qz!v', TOO_SHORT],
    ['73 bytes', 'x'.repeat(73), TOO_LONG],
    ['three U+FDFA: 9 bytes raw, 99 bytes in NFKC', LIGATURE.repeat(3), TOO_LONG],
    ['three "fi" ligatures: 9 bytes raw, 6 in NFKC', FI.repeat(3), TOO_SHORT],
    ['71 ASCII and a "fi" ligature: 74 bytes raw, 73 in NFKC', `${'x'.repeat(71)}${FI}`, TOO_LONG],
    ['a NUL character', 'abcd\0efgh', HAS_NUL],
    ['a lone surrogate', 'abcdefgh\uD800', NOT_UNICODE],
    ['a common password', 'password1', COMMON],
    ['a common password in upper case', 'PASSWORD1', COMMON],
    ['a common password in mixed case', 'PassWord1', COMMON],
    [
      'a common password in full-width letters',
      '\uFF50\uFF41\uFF53\uFF53\uFF57\uFF4F\uFF52\uFF44\uFF11',
      COMMON,
    ],
    ['a common password with symbols', 'P@ssw0rd', COMMON],
    ['another common password', 'qwerty123', COMMON],
  ])('refuses %s', (_case, password, message) => {
    expect(refusalOf(() => checkNewPassword(password))).toEqual({ code: 'BAD_USER_INPUT', message });
  });

  it('checks the lengths of the NFKC form: the U+FDFA cases measure as stated', () => {
    expect([LIGATURE.repeat(3).length, utf8Bytes(LIGATURE.repeat(3))]).toEqual([3, 9]);
    expect(utf8Bytes(normalisePassword(LIGATURE.repeat(3)))).toBe(99);
    expect(utf8Bytes(normalisePassword(LIGATURE.repeat(2)))).toBe(66);
    expect(utf8Bytes(`${'x'.repeat(70)}${FI}`)).toBe(73);
    expect(utf8Bytes(normalisePassword(`${'x'.repeat(70)}${FI}`))).toBe(72);
  });

  it('refuses every entry of the list that is 8 to 72 bytes long, as listed and upper-cased', () => {
    const eligible = COMMON_LIST.filter((entry) => utf8Bytes(entry) >= 8 && utf8Bytes(entry) <= 72);
    expect(eligible.length).toBeGreaterThan(10_000);
    const accepted = eligible.filter(
      (entry) => verdict(entry) !== COMMON || verdict(entry.toUpperCase()) !== COMMON,
    );
    expect(accepted).toEqual([]);
  });

  it.each([
    ['new password', 'password1', 'new password is too common: it is on a list of frequently used passwords'],
    ['new password', 'xxjohnsmithxx', 'new password must not contain the name of the email address'],
    ['password', 'password1', COMMON],
  ])('names the field %j in its messages', (field, password, message) => {
    expect(refusalOf(() => checkNewPassword(password, field, 'johnsmith@example.com'))).toEqual({
      code: 'BAD_USER_INPUT',
      message,
    });
  });

  describe("and the email's name", () => {
    it.each([
      ['equal to the local part', 'longername', 'longername@example.com'],
      ['containing the local part', 'my-johnsmith-99', 'johnsmith@example.com'],
      ['containing it in another case', 'xxJOHNSMITHxx', 'johnsmith@example.com'],
      ['containing it, the email in another case and padded', 'xxjohnsmithxx', '  JohnSmith@Example.COM '],
      [
        'containing it in full-width letters (NFKC)',
        '\uFF4A\uFF4F\uFF48\uFF4E\uFF53\uFF4D\uFF49\uFF54\uFF48-42',
        'johnsmith@example.com',
      ],
      ['containing the whole plus-address local part', 'my jo+news pass', 'jo+news@example.com'],
      ['containing the part before "+tag"', 'john-is-great-42', 'john+news@example.com'],
      ['containing a 3-character local part', 'xxannxx-99-qq', 'ann@example.com'],
      [
        'containing a local part of 3 emoji (6 UTF-16 units)',
        'abc\u{1F600}\u{1F600}\u{1F600}def',
        '\u{1F600}\u{1F600}\u{1F600}@example.com',
      ],
    ])('refuses a password %s', (_case, password, email) => {
      expect(refusalOf(() => checkNewPassword(password, 'password', email))).toEqual({
        code: 'BAD_USER_INPUT',
        message: NAME,
      });
    });

    it.each([
      ['a local part of 2 characters', 'jojojojo-42x', 'jo@example.com'],
      [
        'a local part of 2 emoji (4 UTF-16 units)',
        'abc\u{1F600}\u{1F600}def',
        '\u{1F600}\u{1F600}@example.com',
      ],
      [
        'a 2-character part before "+tag" (the whole local part is not in it)',
        'ab-is-here-99',
        'ab+news@example.com',
      ],
      ['a password that shares only part of the local part', 'johnsmit-99-x', 'johnsmith@example.com'],
      ['the domain in the password', 'example-secret-99', 'johnsmith@example.com'],
    ])('accepts %s', (_case, password, email) => {
      expect(verdict(password, email)).toBe('accepted');
    });

    // The password is compared in NFKC, so the local part must be too, or a local part with compatibility
    // characters would never be found, not even in a password that repeats it exactly as typed.
    it('refuses a password containing, as typed, a local part in full-width letters', () => {
      const name = '\uFF4A\uFF4F\uFF48\uFF4Esmith';
      expect(verdict(`${name}-99`, `${name}@example.com`)).toBe(NAME);
    });

    it('does not check any name without an email', () => {
      expect(verdict('johnsmith99')).toBe('accepted');
      expect(verdict('johnsmith99', 'johnsmith@example.com')).toBe(NAME);
    });
  });

  it('gives the same verdict for a password and its NFKC form, with or without an email', () => {
    fc.assert(
      fc.property(passwordLike, fc.constantFrom(undefined, 'john@example.com'), (password, email) => {
        expect(verdict(password, email)).toBe(verdict(normalisePassword(password), email));
      }),
    );
  });
});

describe('isPlausiblePassword', () => {
  it.each([
    ['the factory PASSWORD', true, PASSWORD],
    ['a common password (existing accounts may have one)', true, 'password1'],
    ["a password containing an email's name (it gets no email)", true, 'johnsmith99'],
    ['exactly 8 bytes', true, 'k7#Qz!v2'],
    ['exactly 72 bytes', true, 'x'.repeat(72)],
    ['two U+FDFA: 6 bytes raw, 66 in NFKC', true, LIGATURE.repeat(2)],
    ['25 decomposed "é": 75 bytes raw, 50 in NFKC', true, DECOMPOSED_E.repeat(25)],
    ['70 ASCII and a "fi" ligature: 73 bytes raw, 72 in NFKC', true, `${'x'.repeat(70)}${FI}`],
    ['7 bytes', false, 'k7#Qz!v'],
    ['73 bytes', false, 'x'.repeat(73)],
    ['three U+FDFA: 9 bytes raw, 99 in NFKC', false, LIGATURE.repeat(3)],
    ['three "fi" ligatures: 9 bytes raw, 6 in NFKC', false, FI.repeat(3)],
    ['a NUL character', false, 'abcd\0efgh'],
    ['a lone surrogate', false, 'abcdefgh\uDFFF'],
  ])('says %s is plausible: %s', (_case, expected, password) => {
    expect(isPlausiblePassword(password)).toBe(expected);
  });

  it('holds for every password checkNewPassword accepts, and agrees with it on length, NUL and Unicode', () => {
    const formOnly = new Set([TOO_SHORT, TOO_LONG, HAS_NUL, NOT_UNICODE]);
    fc.assert(
      fc.property(passwordLike, (password) => {
        const said = verdict(password);
        expect(isPlausiblePassword(password)).toBe(!formOnly.has(said));
      }),
    );
  });
});
