// Reads an account email as exactly one RFC 5321 mailbox and gives it its one canonical form.
import { domainToASCII, domainToUnicode } from 'node:url';
import { EMAIL_MAX_LENGTH } from '../entities/user.entity';

/** The canonical form of an address that is exactly one mailbox, or why it is not one. */
export type MailboxResult =
  { readonly ok: true; readonly address: string } | { readonly ok: false; readonly problem: string };

/** Longest local part (the name before the @), in UTF-8 octets: RFC 5321 §4.5.3.1.1. */
export const LOCAL_PART_MAX_OCTETS = 64;
/** Longest domain, in octets of its ASCII (A-label) form: RFC 1035's 255 less the length octets. */
export const DOMAIN_MAX_OCTETS = 253;
/** Longest domain label (the text between dots), in octets of its ASCII (A-label) form: RFC 1035. */
export const DOMAIN_LABEL_MAX_OCTETS = 63;

// The shape and character messages are the ones the service gave before mailboxes were parsed: clients may show them.
const EMPTY = 'email must not be empty';
const SHAPE = 'email must have exactly one @ with a name before it and a domain after it';
const NO_AT = SHAPE;
const NO_LOCAL_PART = SHAPE;
const NO_DOMAIN = SHAPE;
const SECOND_AT = SHAPE;
const SPACES_OR_CONTROLS = 'email must not contain spaces or control characters';
const NOT_PLAIN = 'email must be one plain address, without display names, comments, groups or lists';
const SPACE = SPACES_OR_CONTROLS;
const LOCAL_DOTS = 'email must not have a leading, trailing or double dot before the @';
const UNCLOSED_QUOTE = 'email must not have an unclosed quote';
const BAD_ESCAPE = 'email may only escape printable ASCII characters inside quotes';
const QUOTED_ANGLE = 'email must not contain < or >, not even inside quotes';
const LOCAL_TOO_LONG = `email must have at most ${LOCAL_PART_MAX_OCTETS} bytes (UTF-8) before the @`;
const DOMAIN_LITERAL = 'email domain must be a name, not an address literal';
const DOMAIN_IP = 'email domain must be a name, not an IP address';
const DOMAIN_CHARACTERS = 'email domain may only contain letters, digits, hyphens and dots';
const DOMAIN_TRAILING_DOT = 'email domain must not end with a dot';
const DOMAIN_EMPTY_LABEL = 'email domain must not start with a dot or have two dots in a row';
const DOMAIN_INVALID = 'email domain is not a valid domain name';
const DOMAIN_HYPHEN = 'email domain parts must not start or end with a hyphen';
const LABEL_TOO_LONG = `email domain parts must be at most ${DOMAIN_LABEL_MAX_OCTETS} characters`;
const DOMAIN_TOO_LONG = `email domain must be at most ${DOMAIN_MAX_OCTETS} characters`;
const TOO_LONG = `email must be at most ${EMAIL_MAX_LENGTH} characters`;

/**
 * Characters no mailbox may contain anywhere, checked in this order (the first match gives the message). They are
 * refused on the raw text, before normalising: nothing NFC or lower-casing produces falls in these classes, and
 * the IDNA mapping below silently drops some of them, which would let an invisible variant pass as a lookalike.
 */
const FORBIDDEN_CHARACTERS: readonly { readonly pattern: RegExp; readonly problem: string }[] = [
  // C0/C1 controls: CR/LF inject mail headers, NUL cuts strings short in C code and database drivers.
  { pattern: /\p{Cc}/u, problem: SPACES_OR_CONTROLS },
  // Format and default-ignorable characters (ZWSP, ZWJ, soft hyphen, bidi overrides, BOM, variation selectors)
  // are invisible: "vic\u200Btim" looks like "victim" but would be a second account. UTS #46 maps most of them
  // to nothing, so in a domain they must be refused here, before domainToASCII can quietly remove them.
  {
    pattern: /[\p{Cf}\p{Default_Ignorable_Code_Point}]/u,
    problem: 'email must not contain invisible or formatting characters',
  },
  // Private-use characters have no agreed meaning or appearance, so no one can check what they are reading.
  { pattern: /\p{Co}/u, problem: 'email must not contain private-use characters' },
  // A later Unicode version may give an unassigned code point a decomposition or a lower-case mapping, and then
  // a stored canonical form would stop being canonical after a Node upgrade.
  { pattern: /\p{Cn}/u, problem: 'email must not contain unassigned characters' },
  // A space is legal inside a quoted local part (the parser refuses it elsewhere); no other whitespace is.
  { pattern: /(?! )\s/u, problem: SPACES_OR_CONTROLS },
];

/** RFC 5322 specials: the characters mail software reads as names, comments, groups, lists and routes. */
const SPECIALS = '()<>[]:;@\\,."';
/** The atext characters that are neither letters nor digits (RFC 5321 §4.1.2 via RFC 5322 §3.2.3). */
const ATEXT_SYMBOLS = "!#$%&'*+-/=?^_`{|}~";
const LAST_ASCII_CODE_POINT = 0x7f;
const FIRST_PRINTABLE_ASCII = 0x20;
const LAST_PRINTABLE_ASCII = 0x7e;

type Parsed =
  { readonly ok: true; readonly value: string } | { readonly ok: false; readonly problem: string };

/** A refusal, shaped so that both MailboxResult and the helpers' results accept it. */
function refuse(problem: string): { readonly ok: false; readonly problem: string } {
  return { ok: false, problem };
}

/**
 * Reads an account email as exactly one RFC 5321 Mailbox (`Local-part "@" Domain`, with RFC 6531's non-ASCII
 * characters) and returns its canonical form: NFC, lower-cased, the local part bare unless it needs quotes, the
 * domain in ASCII (A-label) form. Spellings that differ only in case, accent composition, needless quoting or
 * IDNA form give the same string and invisible characters are refused, so none of them can be a second account.
 * (Confusable scripts, such as a Cyrillic "а" for a Latin "a", are out of its scope.) Everything mail software
 * could read as more than one bare mailbox (display names, comments, groups, lists, literals) is refused.
 */
export function parseMailbox(raw: string): MailboxResult {
  const trimmed = raw.trim();
  if (trimmed === '') return refuse(EMPTY);
  const characterProblem = forbiddenCharacterProblem(trimmed);
  if (characterProblem !== null) return refuse(characterProblem);
  const text = normaliseText(trimmed);
  // No valid domain contains "@", so the separator is the last one, even when a quoted local part holds others.
  const at = text.lastIndexOf('@');
  if (at === -1) return refuse(NO_AT);
  const local = canonicalLocalPart(text.slice(0, at));
  if (!local.ok) return local;
  const domain = canonicalDomain(text.slice(at + 1));
  if (!domain.ok) return domain;
  const address = `${local.value}@${domain.value}`;
  // Measured in code points, as the existing policy and the database's varchar(254) count.
  if ([...address].length > EMAIL_MAX_LENGTH) return refuse(TOO_LONG);
  return { ok: true, address };
}

/** Why the text cannot be an address character by character, or null. */
function forbiddenCharacterProblem(text: string): string | null {
  // An unpaired UTF-16 surrogate has no UTF-8 form: stored, it would become U+FFFD and collide with other input.
  if (!text.isWellFormed()) return 'email must be valid Unicode text';
  return FORBIDDEN_CHARACTERS.find(({ pattern }) => pattern.test(text))?.problem ?? null;
}

/**
 * NFC, so composed and decomposed accents are one address; lower case, as the service has always stored emails;
 * NFC again, because lower-casing can leave a string that is not in NFC. This runs before parsing because NFC
 * can turn a harmless-looking character into a special one (U+037E GREEK QUESTION MARK becomes ";").
 */
function normaliseText(text: string): string {
  return text.normalize('NFC').toLowerCase().normalize('NFC');
}

/**
 * The canonical local part: quoted-pairs unescaped, then bare when the content is a Dot-string and quoted
 * otherwise, so `"victim"`, `"vic\tim"` and `victim` are one account rather than three.
 */
function canonicalLocalPart(local: string): Parsed {
  const content = local.startsWith('"') ? quotedContent(local) : dotStringContent(local);
  if (!content.ok) return content;
  if (content.value === '') return refuse(NO_LOCAL_PART);
  const canonical = dotStringProblem(content.value) === null ? content.value : quote(content.value);
  if (Buffer.byteLength(canonical, 'utf8') > LOCAL_PART_MAX_OCTETS) return refuse(LOCAL_TOO_LONG);
  return { ok: true, value: canonical };
}

/** A Dot-string local part as it stands, or why it is not one. */
function dotStringContent(local: string): Parsed {
  if (local === '') return refuse(NO_LOCAL_PART);
  const problem = dotStringProblem(local);
  return problem === null ? { ok: true, value: local } : refuse(problem);
}

/** Why the text is not a Dot-string (atoms of atext joined by single dots), or null. */
function dotStringProblem(text: string): string | null {
  for (const char of text) {
    if (char !== '.' && !isAtext(char)) return strayCharacterProblem(char) ?? NOT_PLAIN;
  }
  return text.split('.').includes('') ? LOCAL_DOTS : null;
}

/** Whether a character is RFC 5321 atext, widened by RFC 6531 to every non-ASCII code point. */
function isAtext(char: string): boolean {
  return /^[a-z0-9]$/i.test(char) || ATEXT_SYMBOLS.includes(char) || isNonAscii(char);
}

/**
 * The unescaped content of a Quoted-string local part, or why it is not exactly one. Controls and whitespace
 * other than a space were refused earlier, so every other character is qtextSMTP and needs no check here.
 */
function quotedContent(local: string): Parsed {
  let content = '';
  for (let index = 1; index < local.length; index += 1) {
    const char = local.charAt(index);
    if (char === '"') {
      // Text after the closing quote (`"x"victim`) is how a display name is smuggled in: never one mailbox.
      return index === local.length - 1 ? { ok: true, value: content } : refuse(NOT_PLAIN);
    }
    let next = char;
    if (char === '\\') {
      index += 1;
      if (index >= local.length) return refuse(UNCLOSED_QUOTE);
      next = local.charAt(index);
      if (!isPrintableAscii(next)) return refuse(BAD_ESCAPE);
    }
    // Legal qtext, but nodemailer rewrites angle brackets in an envelope address to spaces, quoted or not: the
    // mail for `"<v@corp.example>"@x` would go to `" v@corp.example "@x`, another mailbox than the account's.
    if (next === '<' || next === '>') return refuse(QUOTED_ANGLE);
    content += next;
  }
  return refuse(UNCLOSED_QUOTE);
}

/** Content as a Quoted-string, escaping only the two characters that must be: one spelling per content. */
function quote(content: string): string {
  return `"${content.replace(/["\\]/g, '\\$&')}"`;
}

/** The message for an ASCII character that is out of place outside quotes, or null when it has none of its own. */
function strayCharacterProblem(char: string): string | null {
  if (char === '@') return SECOND_AT;
  if (char === ' ') return SPACE;
  if (SPECIALS.includes(char)) return NOT_PLAIN;
  return null;
}

/**
 * The canonical domain: its ASCII (A-label) form, lower case, without a trailing dot. A-labels are stored because
 * they are what DNS and SMTP use and IDNA maps many spellings (`BÜCHER`, full-width letters, `xn--bcher-kva`) to
 * one of them, so one domain has one stored spelling.
 */
function canonicalDomain(domain: string): Parsed {
  if (domain === '') return refuse(NO_DOMAIN);
  // Address literals (`[192.0.2.1]`, `[IPv6:…]`) are refused: an account needs a mailbox at a domain, and a literal
  // names a host that may change hands, has no MX and is unlikely to be a stable address for anyone.
  if (domain.startsWith('[')) return refuse(DOMAIN_LITERAL);
  const inputProblem = domainInputProblem(domain);
  if (inputProblem !== null) return refuse(inputProblem);
  const ascii = domainToASCII(domain);
  // domainToASCII answers "" for what IDNA refuses. Node 20 also accepts an xn-- label that decodes to plain
  // ASCII (`xn--abc-`, shown as "abc"), a lookalike of a different domain: an A-label must be the one its
  // Unicode form maps to.
  if (ascii === '' || domainToASCII(domainToUnicode(ascii)) !== ascii) return refuse(DOMAIN_INVALID);
  const asciiProblem = asciiDomainProblem(ascii);
  return asciiProblem === null ? { ok: true, value: ascii } : refuse(asciiProblem);
}

/**
 * Why the domain as typed cannot be a domain name, or null. The ASCII characters are limited to letters, digits,
 * hyphens and dots before domainToASCII runs because it parses a URL host: it decodes `%41`, and it cuts the
 * domain at `/`, `?`, `#` or `\` (`corp.example/x` would become `corp.example`).
 */
function domainInputProblem(domain: string): string | null {
  for (const char of domain) {
    if (!isNonAscii(char) && !/^[a-z0-9.-]$/.test(char)) {
      return strayCharacterProblem(char) ?? DOMAIN_CHARACTERS;
    }
  }
  return labelStructureProblem(domain.split('.'));
}

/**
 * Why a domain's labels do not make a name, or null. Checked on the input and again on the ASCII form, since
 * IDNA maps U+3002 IDEOGRAPHIC FULL STOP and its kin to ".".
 */
function labelStructureProblem(labels: readonly string[]): string | null {
  if (labels.length > 1 && labels.at(-1) === '') return DOMAIN_TRAILING_DOT;
  if (labels.includes('')) return DOMAIN_EMPTY_LABEL;
  // A numeric last label makes a URL host parser read the whole domain as an IPv4 address ("123" is 0.0.0.123).
  if (/^[0-9]+$/.test(labels.at(-1) ?? '')) return DOMAIN_IP;
  return null;
}

/** Why the ASCII form of a domain is not a host name (RFC 1123 letters, digits and hyphens), or null. */
function asciiDomainProblem(ascii: string): string | null {
  const labels = ascii.split('.');
  const structureProblem = labelStructureProblem(labels);
  if (structureProblem !== null) return structureProblem;
  if (labels.some((label) => !/^[a-z0-9-]+$/.test(label))) return DOMAIN_CHARACTERS;
  // IDNA as domainToASCII runs it does not check hyphens; RFC 5891 forbids them at either end of the A-label
  // and of the U-label (`bü-` encodes as `xn--b--xka`, whose own ends look fine).
  const unicodeLabels = domainToUnicode(ascii).split('.');
  if ([...labels, ...unicodeLabels].some((label) => label.startsWith('-') || label.endsWith('-'))) {
    return DOMAIN_HYPHEN;
  }
  if (labels.some((label) => label.length > DOMAIN_LABEL_MAX_OCTETS)) return LABEL_TOO_LONG;
  if (ascii.length > DOMAIN_MAX_OCTETS) return DOMAIN_TOO_LONG;
  return null;
}

/** Whether a single code point is outside ASCII. */
function isNonAscii(char: string): boolean {
  return (char.codePointAt(0) ?? 0) > LAST_ASCII_CODE_POINT;
}

/** Whether a single code point is printable ASCII (%d32-126), what a quoted-pairSMTP may escape. */
function isPrintableAscii(char: string): boolean {
  const codePoint = char.codePointAt(0) ?? 0;
  return codePoint >= FIRST_PRINTABLE_ASCII && codePoint <= LAST_PRINTABLE_ASCII;
}
