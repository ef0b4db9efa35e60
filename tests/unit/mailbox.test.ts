// The mailbox parser: exactly one RFC 5321 mailbox, one canonical form per mailbox, a reason for every refusal.
import fc from 'fast-check';
import {
  DOMAIN_LABEL_MAX_OCTETS,
  DOMAIN_MAX_OCTETS,
  LOCAL_PART_MAX_OCTETS,
  parseMailbox,
} from '../../src/accounts';
import { EMAIL_MAX_LENGTH } from '../../src/entities/user.entity';

const EMPTY = 'email must not be empty';
const NOT_UNICODE = 'email must be valid Unicode text';
// The shape and character messages are the ones the service gave before mailboxes were parsed.
const CONTROL = 'email must not contain spaces or control characters';
const INVISIBLE = 'email must not contain invisible or formatting characters';
const PRIVATE_USE = 'email must not contain private-use characters';
const UNASSIGNED = 'email must not contain unassigned characters';
const WHITESPACE = CONTROL;
const NO_AT = 'email must have exactly one @ with a name before it and a domain after it';
const NO_LOCAL_PART = NO_AT;
const NO_DOMAIN = NO_AT;
const SECOND_AT = NO_AT;
const NOT_PLAIN = 'email must be one plain address, without display names, comments, groups or lists';
const QUOTED_ANGLE = 'email must not contain < or >, not even inside quotes';
const SPACE = CONTROL;
const LOCAL_DOTS = 'email must not have a leading, trailing or double dot before the @';
const UNCLOSED_QUOTE = 'email must not have an unclosed quote';
const BAD_ESCAPE = 'email may only escape printable ASCII characters inside quotes';
const LOCAL_TOO_LONG = 'email must have at most 64 bytes (UTF-8) before the @';
const DOMAIN_LITERAL = 'email domain must be a name, not an address literal';
const DOMAIN_IP = 'email domain must be a name, not an IP address';
const DOMAIN_CHARACTERS = 'email domain may only contain letters, digits, hyphens and dots';
const DOMAIN_TRAILING_DOT = 'email domain must not end with a dot';
const DOMAIN_EMPTY_LABEL = 'email domain must not start with a dot or have two dots in a row';
const DOMAIN_INVALID = 'email domain is not a valid domain name';
const DOMAIN_HYPHEN = 'email domain parts must not start or end with a hyphen';
const LABEL_TOO_LONG = 'email domain parts must be at most 63 characters';
const DOMAIN_TOO_LONG = 'email domain must be at most 253 characters';
const TOO_LONG = 'email must be at most 254 characters';

/** The canonical address parseMailbox gives, or a description of its refusal (so a failure shows the reason). */
function addressOf(raw: string): string {
  const result = parseMailbox(raw);
  return result.ok ? result.address : `refused: ${result.problem}`;
}

/** The problem parseMailbox gives, or a description of the address it accepted instead. */
function problemOf(raw: string): string {
  const result = parseMailbox(raw);
  return result.ok ? `accepted as ${result.address}` : result.problem;
}

/** A domain of exactly `length` characters, in labels no longer than DNS allows. */
function domainOfLength(length: number): string {
  const labels: string[] = [];
  let remaining = length;
  // Each full label plus its dot takes DOMAIN_LABEL_MAX_OCTETS characters; the last label takes what is left.
  while (remaining > DOMAIN_LABEL_MAX_OCTETS) {
    labels.push('d'.repeat(DOMAIN_LABEL_MAX_OCTETS - 1));
    remaining -= DOMAIN_LABEL_MAX_OCTETS;
  }
  labels.push('d'.repeat(remaining));
  return labels.join('.');
}

/** An address of exactly `length` characters with a 64-octet local part. */
function addressOfLength(length: number): string {
  const local = 'l'.repeat(LOCAL_PART_MAX_OCTETS);
  return `${local}@${domainOfLength(length - local.length - 1)}`;
}

describe('parseMailbox refuses what mail software reads as more than one bare mailbox', () => {
  it.each([
    ['a display name before angle brackets', 'x<victim@corp.example>', NOT_PLAIN],
    ['a list after the address', 'victim@corp.example,x', NOT_PLAIN],
    ['a group', 'q:victim@corp.example;', NOT_PLAIN],
    ['a quoted display name glued to the address', '"x"victim@corp.example', NOT_PLAIN],
    ['a comment after the domain', 'victim@corp.example(x)', NOT_PLAIN],
    ['a list separator before the address', 'x;victim@corp.example', NOT_PLAIN],
    ['a comment before the local part', '(x)victim@corp.example', NOT_PLAIN],
    ['a comment before the domain', 'victim@(x)corp.example', NOT_PLAIN],
    ['an address in angle brackets', '<victim@corp.example>', NOT_PLAIN],
    ['a display name with a space', 'Victim <victim@corp.example>', SPACE],
    ['two addresses', 'a@evil.example, victim@corp.example', SECOND_AT],
    ['a source route', '@evil.example:victim@corp.example', SECOND_AT],
    ['a second @', 'victim@corp.example@evil.example', SECOND_AT],
    ['quoted words joined by a dot', '"x"."victim"@corp.example', NOT_PLAIN],
    ['a quote inside a bare local part', 'vic"tim"@corp.example', NOT_PLAIN],
    ['a backslash outside quotes', 'vic\\tim@corp.example', NOT_PLAIN],
    ['a semicolon produced by NFC from U+037E GREEK QUESTION MARK', 'x\u037Evictim@corp.example', NOT_PLAIN],
    ['a quote in the domain', 'victim@"corp.example"', NOT_PLAIN],
    ['a header injected after a line break', 'victim@corp.example\r\nBcc: x@evil.example', CONTROL],
    // Legal inside quotes, but nodemailer turns them into spaces in the envelope: mail to another mailbox.
    ['angle brackets inside quotes', '"<victim@corp.example>"@x.example', QUOTED_ANGLE],
    ['an escaped angle bracket inside quotes', '"a\\>b"@x.example', QUOTED_ANGLE],
  ])('refuses %s', (_case, raw, problem) => {
    expect(problemOf(raw)).toBe(problem);
  });
});

describe('parseMailbox accepts ordinary addresses as they are', () => {
  it.each([
    ['user@example.com'],
    ['first.last+tag@sub.example.co.uk'],
    ["o'brien@example.ie"],
    ["!#$%&'*+-/=?^_`{|}~@example.com"],
    ['a.b-c_d@ex-ample.com'],
    ['1234567890@example.com'],
    ['x@x.io'],
    ['admin@localhost'],
    ['user@xn--bcher-kva.example'],
    ['user@ex--ample.com'],
    ['jösé@example.com'],
    ['用户@xn--fsqu00a.xn--4rr70v'],
  ])('accepts %s unchanged', (address) => {
    expect(addressOf(address)).toBe(address);
  });
});

describe('parseMailbox gives each mailbox one canonical spelling', () => {
  it.each([
    ['trims surrounding whitespace', '  victim@corp.example \n', 'victim@corp.example'],
    [
      'trims a leading byte-order mark like any whitespace',
      '\uFEFFvictim@corp.example',
      'victim@corp.example',
    ],
    ['lower-cases the local part and domain', 'Victim@Corp.EXAMPLE', 'victim@corp.example'],
    ['keeps a quoted local part with a space quoted', '"john doe"@example.com', '"john doe"@example.com'],
    ['keeps a quoted local part with two dots quoted', '"john..doe"@example.com', '"john..doe"@example.com'],
    ['keeps a quoted leading dot quoted', '".john"@example.com', '".john"@example.com'],
    ['keeps an escaped quote escaped', '"a\\"b"@example.com', '"a\\"b"@example.com'],
    ['keeps an escaped backslash escaped', '"a\\\\b"@example.com', '"a\\\\b"@example.com'],
    ['keeps specials inside quotes', '"a@b,c"@example.com', '"a@b,c"@example.com'],
    ['drops quotes that are not needed', '"abc"@example.com', 'abc@example.com'],
    ['drops needless escapes', '"vic\\tim"@corp.example', 'victim@corp.example'],
    ['drops a needless escape of a space but keeps the quotes', '"a\\ b"@example.com', '"a b"@example.com'],
    ['lower-cases inside quotes', '"John.Doe"@Example.COM', 'john.doe@example.com'],
    ['keeps a non-ASCII local part in NFC', 'jo\u0308se\u0301@example.com', 'jösé@example.com'],
  ])('%s', (_case, raw, expected) => {
    expect(addressOf(raw)).toBe(expected);
  });
});

describe('parseMailbox collapses lookalikes into one account', () => {
  it.each([
    ['NFD and NFC', 'jose\u0301@x.example', 'jos\u00E9@x.example'],
    ['upper and lower case', 'VICTIM@CORP.EXAMPLE', 'victim@corp.example'],
    ['upper-case non-ASCII and lower case', 'JOSÉ@x.example', 'josé@x.example'],
    ['a quoted and a bare local part', '"abc"@example.com', 'abc@example.com'],
    ['an A-label and its U-label', 'a@xn--bcher-kva.example', 'a@bücher.example'],
    ['an upper-case U-label and a lower-case one', 'a@BÜCHER.example', 'a@bücher.example'],
    ['a full-width domain and an ASCII one', 'a@\uFF45xample.com', 'a@example.com'],
    ['an ideographic full stop and a dot', 'a@example\u3002com', 'a@example.com'],
  ])('treats %s as the same mailbox', (_case, one, other) => {
    expect(addressOf(one)).toBe(addressOf(other));
    expect(addressOf(one)).not.toMatch(/^refused/);
  });
});

describe('parseMailbox refuses invisible characters anywhere, before IDNA can drop them', () => {
  const invisibles: readonly (readonly [string, string])[] = [
    ['a zero-width space', '\u200B'],
    ['a zero-width non-joiner', '\u200C'],
    ['a zero-width joiner', '\u200D'],
    ['a soft hyphen', '\u00AD'],
    ['a right-to-left override', '\u202E'],
    ['a left-to-right embedding', '\u202A'],
    ['a first-strong isolate', '\u2068'],
    ['a byte-order mark inside the address', '\uFEFF'],
    ['a word joiner', '\u2060'],
    ['a variation selector', '\uFE0F'],
    ['a combining grapheme joiner', '\u034F'],
    ['a Hangul filler', '\u3164'],
    ['a tag character', '\u{E0041}'],
  ];
  const cases = invisibles.flatMap(([name, char]) => [
    [name, 'the local part', `vic${char}tim@corp.example`],
    [name, 'the domain', `victim@corp${char}.example`],
    [name, 'a Unicode domain', `victim@bü${char}cher.example`],
  ]);
  it.each(cases)('refuses %s in %s', (_name, _where, raw) => {
    expect(problemOf(raw)).toBe(INVISIBLE);
  });
});

describe('parseMailbox refuses characters that do not belong in an address', () => {
  it.each([
    ['the empty string', '', EMPTY],
    ['only whitespace', ' \t\n ', EMPTY],
    ['an unpaired high surrogate', '\uD800@example.com', NOT_UNICODE],
    ['an unpaired low surrogate', 'vic\uDFFFtim@example.com', NOT_UNICODE],
    ['a NUL', 'vic\0tim@example.com', CONTROL],
    ['a tab', 'vic\ttim@example.com', CONTROL],
    ['a tab inside quotes', '"vic\ttim"@example.com', CONTROL],
    ['a CR', 'vic\rtim@example.com', CONTROL],
    ['a LF', 'vic\ntim@example.com', CONTROL],
    ['a DEL', 'vic\x7Ftim@example.com', CONTROL],
    ['a C1 control', 'vic\u009Btim@example.com', CONTROL],
    ['a next-line control', 'vic\u0085tim@example.com', CONTROL],
    ['a line separator', 'vic\u2028tim@example.com', WHITESPACE],
    ['a no-break space', 'vic\u00A0tim@example.com', WHITESPACE],
    ['a no-break space inside quotes', '"vic\u00A0tim"@example.com', WHITESPACE],
    ['an ideographic space', 'vic\u3000tim@example.com', WHITESPACE],
    ['a private-use character', 'vic\uE000tim@example.com', PRIVATE_USE],
    ['a supplementary private-use character', 'vic\u{F0000}tim@example.com', PRIVATE_USE],
    ['an unassigned code point', 'vic\u0378tim@example.com', UNASSIGNED],
    ['a noncharacter', 'vic\uFFFFtim@example.com', UNASSIGNED],
    ['a space outside quotes', 'vic tim@example.com', SPACE],
    ['a space in the domain', 'victim@exam ple.com', SPACE],
  ])('refuses %s', (_case, raw, problem) => {
    expect(problemOf(raw)).toBe(problem);
  });
});

describe('parseMailbox reads the local part as a Dot-string or a Quoted-string', () => {
  it.each([
    ['no @', 'victim.corp.example', NO_AT],
    ['an empty local part', '@example.com', NO_LOCAL_PART],
    ['an empty quoted local part', '""@example.com', NO_LOCAL_PART],
    ['a leading dot', '.victim@example.com', LOCAL_DOTS],
    ['a trailing dot', 'victim.@example.com', LOCAL_DOTS],
    ['a double dot', 'vic..tim@example.com', LOCAL_DOTS],
    ['only a dot', '.@example.com', LOCAL_DOTS],
    ['an unclosed quote', '"victim@example.com', UNCLOSED_QUOTE],
    ['a closing quote that is escaped', '"victim\\"@example.com', UNCLOSED_QUOTE],
    ['an escaped non-ASCII character', '"vic\\ütim"@example.com', BAD_ESCAPE],
    ['an escaped emoji', '"vic\\😀tim"@example.com', BAD_ESCAPE],
    ['text after the closing quote', '"vic"tim@example.com', NOT_PLAIN],
  ])('refuses %s', (_case, raw, problem) => {
    expect(problemOf(raw)).toBe(problem);
  });
});

describe('parseMailbox reads the domain as a host name', () => {
  it.each([
    ['an empty domain', 'victim@', NO_DOMAIN],
    ['a trailing dot', 'victim@example.com.', DOMAIN_TRAILING_DOT],
    ['a trailing dot that IDNA maps from U+3002', 'victim@example.com\u3002', DOMAIN_TRAILING_DOT],
    ['a double dot', 'victim@example..com', DOMAIN_EMPTY_LABEL],
    ['a leading dot', 'victim@.example.com', DOMAIN_EMPTY_LABEL],
    ['a leading hyphen', 'victim@-example.com', DOMAIN_HYPHEN],
    ['a trailing hyphen', 'victim@example-.com', DOMAIN_HYPHEN],
    ['a hyphen ending the top-level label', 'victim@example.com-', DOMAIN_HYPHEN],
    [
      'a hyphen ending a Unicode label (its A-label xn--b--xka ends in a)',
      'victim@bü-.example',
      DOMAIN_HYPHEN,
    ],
    ['a numeric top-level label', 'victim@example.123', DOMAIN_IP],
    ['an IPv4 address', 'victim@192.0.2.1', DOMAIN_IP],
    ['a bare number (a URL parser reads it as 0.0.0.123)', 'victim@123', DOMAIN_IP],
    ['hexadecimal IPv4 parts that a URL parser reads as 127.0.0.1', 'victim@0x7f.0x1', DOMAIN_IP],
    ['a full-width IPv4 address', 'victim@\uFF11.\uFF12.\uFF13.\uFF14', DOMAIN_IP],
    ['an IPv4 address literal', 'victim@[192.0.2.1]', DOMAIN_LITERAL],
    ['an IPv6 address literal', 'victim@[IPv6:2001:db8::1]', DOMAIN_LITERAL],
    ['an underscore', 'victim@exa_mple.com', DOMAIN_CHARACTERS],
    ['a percent escape a URL parser would decode', 'victim@ex%41mple.com', DOMAIN_CHARACTERS],
    ['a slash a URL parser would cut the domain at', 'victim@corp.example/evil', DOMAIN_CHARACTERS],
    ['a question mark a URL parser would cut the domain at', 'victim@corp.example?x', DOMAIN_CHARACTERS],
    ['a hash a URL parser would cut the domain at', 'victim@corp.example#x', DOMAIN_CHARACTERS],
    ['a backslash a URL parser would cut the domain at', 'victim@corp.example\\x', NOT_PLAIN],
    ['a full-width low line that IDNA maps to an underscore', 'victim@exa\uFF3Fmple.com', DOMAIN_CHARACTERS],
    ['a full-width solidus that IDNA maps to a slash', 'victim@corp\uFF0Fexample', DOMAIN_INVALID],
    ['invalid Punycode', 'victim@xn--zz.example', DOMAIN_INVALID],
    ['an A-label that decodes to plain ASCII ("abc")', 'victim@xn--abc-.example', DOMAIN_INVALID],
    ['a label that starts with a combining mark', 'victim@\u0301corp.example', DOMAIN_INVALID],
  ])('refuses %s', (_case, raw, problem) => {
    expect(problemOf(raw)).toBe(problem);
  });
});

describe('parseMailbox stores domains as A-labels', () => {
  it.each([
    ['a Unicode domain', 'user@bücher.example', 'user@xn--bcher-kva.example'],
    ['an upper-case Unicode domain', 'user@BÜCHER.example', 'user@xn--bcher-kva.example'],
    ['an A-label', 'user@xn--bcher-kva.example', 'user@xn--bcher-kva.example'],
    ['an upper-case A-label', 'user@XN--BCHER-KVA.EXAMPLE', 'user@xn--bcher-kva.example'],
    ['a full-width letter', 'user@\uFF45xample.com', 'user@example.com'],
    [
      'a full-width domain and full stop',
      'user@\uFF45\uFF58\uFF41\uFF4D\uFF50\uFF4C\uFF45\uFF0E\uFF43\uFF4F\uFF4D',
      'user@example.com',
    ],
    ['a sharp s, kept (IDNA2008: not the same domain as "ss")', 'user@straße.de', 'user@xn--strae-oqa.de'],
    ['an emoji domain', 'user@💩.la', 'user@xn--ls8h.la'],
    ['a non-ASCII local part and domain', '用户@例子.广告', '用户@xn--fsqu00a.xn--4rr70v'],
  ])('maps %s to its A-label form', (_case, raw, expected) => {
    expect(addressOf(raw)).toBe(expected);
  });
});

describe('parseMailbox enforces the length limits at their boundaries', () => {
  const local64 = 'l'.repeat(LOCAL_PART_MAX_OCTETS);
  it.each([
    ['a 64-octet local part', `${local64}@example.com`],
    ['a 64-octet local part of 2-byte characters', `${'é'.repeat(32)}@example.com`],
    ['a 64-octet local part of 4-byte characters', `${'😀'.repeat(16)}@example.com`],
    ['a 64-octet local part written with quotes it does not need', `"${local64}"@example.com`],
    ['a 64-octet quoted local part, quotes included', `"${'q'.repeat(61)} "@example.com`],
    ['a 63-octet label', `user@${'a'.repeat(DOMAIN_LABEL_MAX_OCTETS)}.example`],
    ['a Unicode label whose A-label has 63 octets', `user@${'ü'.repeat(57)}.example`],
    ['a 254-character address', addressOfLength(EMAIL_MAX_LENGTH)],
  ])('accepts %s', (_case, raw) => {
    expect(addressOf(raw)).not.toMatch(/^refused/);
  });

  it.each([
    ['a 65-octet local part', `${'l'.repeat(LOCAL_PART_MAX_OCTETS + 1)}@example.com`, LOCAL_TOO_LONG],
    ['33 two-byte characters (66 octets)', `${'é'.repeat(33)}@example.com`, LOCAL_TOO_LONG],
    ['63 ASCII and one two-byte character (65 octets)', `${'l'.repeat(63)}é@example.com`, LOCAL_TOO_LONG],
    ['a 65-octet quoted local part, quotes included', `"${'q'.repeat(62)} "@example.com`, LOCAL_TOO_LONG],
    ['a 64-octet label', `user@${'a'.repeat(DOMAIN_LABEL_MAX_OCTETS + 1)}.example`, LABEL_TOO_LONG],
    [
      'a 58-character Unicode label whose A-label has 64 octets',
      `user@${'ü'.repeat(58)}.example`,
      LABEL_TOO_LONG,
    ],
    ['a 255-character address', addressOfLength(EMAIL_MAX_LENGTH + 1), TOO_LONG],
    [
      'a 253-character domain, which leaves no room for a name',
      `u@${domainOfLength(DOMAIN_MAX_OCTETS)}`,
      TOO_LONG,
    ],
    ['a 254-character domain', `u@${domainOfLength(DOMAIN_MAX_OCTETS + 1)}`, DOMAIN_TOO_LONG],
  ])('refuses %s', (_case, raw, problem) => {
    expect(problemOf(raw)).toBe(problem);
  });

  it('builds test inputs of the lengths it claims', () => {
    expect(addressOfLength(EMAIL_MAX_LENGTH)).toHaveLength(EMAIL_MAX_LENGTH);
    expect(domainOfLength(DOMAIN_MAX_OCTETS)).toHaveLength(DOMAIN_MAX_OCTETS);
    expect(Buffer.byteLength(`"${'q'.repeat(61)} "`, 'utf8')).toBe(LOCAL_PART_MAX_OCTETS);
  });
});

/** Pieces of local parts: atext, specials, quotes, escapes, case, accents and lookalike characters. */
const localPiece = fc.oneof(
  fc.string({ unit: 'grapheme-ascii', maxLength: 6 }),
  fc.constantFrom(
    'a',
    'Z',
    '.',
    '..',
    '"',
    '\\',
    '\\"',
    ' ',
    '@',
    '+',
    "'",
    '(',
    ')',
    '<',
    '>',
    ',',
    ';',
    ':',
  ),
  fc.constantFrom('é', 'e\u0301', 'É', 'ß', 'İ', 'Σ', 'ς', '用户', '😀', '\u037E', '\u212A', '\uFF21'),
);

/** Pieces of domains: ASCII labels, hyphens, Unicode labels, A-labels and characters IDNA maps. */
const domainPiece = fc.oneof(
  fc.stringMatching(/^[a-z0-9-]{1,8}$/),
  fc.constantFrom('.', '-', 'example', 'COM', 'bücher', 'BÜCHER', 'xn--bcher-kva', 'straße', '例子'),
  fc.constantFrom('\uFF45', '\u3002', '\uFF0E', '123', 'xn--', '\u0301'),
);

/** Strings shaped like addresses: a local part, optionally quoted, an @ and a domain, around noise. */
const plausibleAddress = fc
  .tuple(
    fc.array(localPiece, { minLength: 1, maxLength: 6 }),
    fc.boolean(),
    fc.array(domainPiece, { minLength: 1, maxLength: 6 }),
  )
  .map(([local, quoted, domain]) => {
    const name = local.join('');
    return `${quoted ? `"${name}"` : name}@${domain.join('')}`;
  });

/** Anything at all, or an address-shaped string. */
const anyInput = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), plausibleAddress);

describe('parseMailbox properties', () => {
  it('accepts enough generated addresses for the properties to mean something', () => {
    const samples = fc.sample(plausibleAddress, { numRuns: 2000, seed: 1 });
    const accepted = samples.filter((raw) => parseMailbox(raw).ok);
    expect(accepted.length).toBeGreaterThan(100);
  });

  it('gives back the canonical form unchanged when it is parsed again (idempotence)', () => {
    fc.assert(
      fc.property(anyInput, (raw) => {
        const once = parseMailbox(raw);
        if (!once.ok) return;
        expect(parseMailbox(once.address)).toEqual(once);
      }),
      { numRuns: 2000 },
    );
  });

  it('gives canonical forms that are NFC, lower-case, ASCII in the domain and within the length limit', () => {
    fc.assert(
      fc.property(anyInput, (raw) => {
        const result = parseMailbox(raw);
        if (!result.ok) return;
        const { address } = result;
        expect(address.normalize('NFC')).toBe(address);
        expect(address.toLowerCase()).toBe(address);
        expect(address.slice(address.lastIndexOf('@') + 1)).toMatch(/^[a-z0-9.-]+$/);
        expect([...address].length).toBeLessThanOrEqual(EMAIL_MAX_LENGTH);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses every accepted address wrapped in a display name, comment, group or list', () => {
    const wrappers: readonly ((address: string) => string)[] = [
      (address) => `x<${address}>`,
      (address) => `${address},x`,
      (address) => `q:${address};`,
      (address) => `"x"${address}`,
      (address) => `${address}(x)`,
      (address) => `x;${address}`,
      (address) => `${address}@evil.example`,
    ];
    fc.assert(
      fc.property(plausibleAddress, fc.constantFrom(...wrappers), (raw, wrap) => {
        const result = parseMailbox(raw);
        if (!result.ok) return;
        expect(parseMailbox(wrap(result.address)).ok).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses every accepted address with an invisible character put inside it', () => {
    fc.assert(
      fc.property(
        plausibleAddress,
        fc.constantFrom('\u200B', '\u200C', '\u200D', '\u00AD', '\u202E', '\u2066', '\uFEFF', '\uFE0F'),
        fc.nat(),
        (raw, invisible, at) => {
          const result = parseMailbox(raw);
          if (!result.ok) return;
          // Inside, by code point: at either end it would be trimmed (U+FEFF) or split a surrogate pair.
          const codePoints = [...result.address];
          const position = 1 + (at % (codePoints.length - 1));
          const altered = [...codePoints.slice(0, position), invisible, ...codePoints.slice(position)].join(
            '',
          );
          expect(parseMailbox(altered)).toEqual({ ok: false, problem: INVISIBLE });
        },
      ),
      { numRuns: 2000 },
    );
  });
});
