// Property-based hostile input against the real app: no 5xx, leak or hang, and no data changed by a failed request.
import { valueOrThrow } from '../../src/errors';
import fc from 'fast-check';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import {
  Kind,
  OperationTypeNode,
  parse,
  type DocumentNode,
  type FragmentDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { LOGIN, LOGOUT, PROFILE, REGISTER, REQUEST_RESET, RESET } from '../helpers/graphql';
import { PASSWORD, uniqueEmail } from '../helpers/factories';

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** The account registered before any hostile request; it must still log in with PASSWORD afterwards. */
const KNOWN_EMAIL = uniqueEmail('known');
/** Setup and final checks come from their own addresses, so they spend none of the hostile client's budgets. */
const SETUP_ADDRESS = '203.0.113.10';
const CHECK_ADDRESS = '203.0.113.20';
/** Longer than any honest answer takes here: an answer this late is a hang. */
const ANSWER_TIMEOUT_MS = 5_000;
const ONE_MIB = 1024 * 1024;
/** Stands for a fresh valid session token of the known account in a generated Cookie header. */
const REAL_SESSION = '<valid session_id of the known account>';
/** Runs of one character at least this long print as `"c".repeat(n)` in counterexamples. */
const RUN_TO_COMPRESS = 24;

/**
 * What an answer must never contain: driver or SQL error text, stack frames and file paths, and the `Error:` of
 * a thrown error's message. graphql-js's documented parse message starts with "Syntax Error:", so that one is allowed.
 */
const LEAK_PATTERNS: readonly RegExp[] = [
  /sqlite/i,
  /at \//,
  /\n\s+at /,
  /(?<!Syntax )Error:/,
  /node_modules/,
  /"stack(trace)?"/i,
];

/** Whether a value is a non-null, non-array object. */
function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A string as a JavaScript expression that rebuilds it exactly, with long runs of one character written as
 * `"c".repeat(n)`, so that a 1 MB counterexample prints in one line. JSON.stringify escapes unpaired surrogates.
 */
function jsLiteral(text: string): string {
  const chars = [...text];
  const parts: string[] = [];
  let plain = '';
  for (let start = 0; start < chars.length;) {
    let end = start + 1;
    while (end < chars.length && chars[end] === chars[start]) end += 1;
    if (end - start >= RUN_TO_COMPRESS) {
      if (plain !== '') parts.push(JSON.stringify(plain));
      plain = '';
      parts.push(`${JSON.stringify(chars[start])}.repeat(${end - start})`);
    } else {
      plain += chars.slice(start, end).join('');
    }
    start = end;
  }
  if (plain !== '' || parts.length === 0) parts.push(JSON.stringify(plain));
  return parts.join(' + ');
}

/** One request exactly as it is injected. Counterexamples print as the `app.server.inject(...)` call that replays it. */
class HostileRequest {
  constructor(
    readonly method: Method,
    readonly url: string,
    readonly headers: Readonly<Record<string, string>>,
    readonly payload?: string | Buffer,
  ) {}

  /** Whether the Cookie header asks for a real session of the known account (REAL_SESSION). */
  get wantsRealSession(): boolean {
    return this.headers.cookie?.includes(REAL_SESSION) ?? false;
  }

  /** The same request with every REAL_SESSION in its Cookie header replaced by `token`. */
  withSessionToken(token: string): HostileRequest {
    const cookie = this.headers.cookie?.split(REAL_SESSION).join(token);
    return cookie === undefined
      ? this
      : new HostileRequest(this.method, this.url, { ...this.headers, cookie }, this.payload);
  }

  /** The pathname, without the query string. */
  get path(): string {
    return new URL(this.url, 'http://localhost').pathname;
  }

  [fc.toStringMethod](): string {
    const headers = Object.entries(this.headers)
      .map(([name, value]) => `${JSON.stringify(name)}: ${jsLiteral(value)}`)
      .join(', ');
    const payload =
      this.payload === undefined
        ? ''
        : `, payload: ${
            typeof this.payload === 'string'
              ? jsLiteral(this.payload)
              : `Buffer.from('${this.payload.toString('hex')}', 'hex')`
          }`;
    return `inject({ method: '${this.method}', url: ${jsLiteral(this.url)}, headers: { ${headers} }${payload} })`;
  }
}

/** A piece of JSON text put into a body as is: invalid JSON, extreme numbers or deep nesting. */
class RawJson {
  constructor(readonly text: string) {}

  [fc.toStringMethod](): string {
    return `RawJson(${jsLiteral(this.text)})`;
  }
}

/** JSON text for a generated value; RawJson pieces go in verbatim, so the result may be deliberately invalid. */
function jsonText(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (Array.isArray(value)) return `[${value.map(jsonText).join(',')}]`;
  if (isObject(value)) {
    return `{${Object.entries(value)
      .map(([key, item]) => `${JSON.stringify(key)}:${jsonText(item)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** A JSON object with these entries in order, duplicate keys included. */
function jsonObjectText(entries: readonly (readonly [string, unknown])[]): string {
  return `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${jsonText(value)}`).join(',')}}`;
}

/** Percent-encodes text as a browser would; unpaired surrogates become U+FFFD, as in any UTF-8 encoder. */
function formEncode(text: string): string {
  return encodeURIComponent(text.toWellFormed());
}

/**
 * The form pairs a value becomes under a key: strings as is, arrays as a repeated key, objects as `key[sub]`
 * keys, null as a bare key without `=`, anything else as its text.
 */
function formPairs(key: string, value: unknown): string[] {
  const name = formEncode(key);
  if (value instanceof RawJson) return [`${name}=${formEncode(value.text)}`];
  if (typeof value === 'string') return [`${name}=${formEncode(value)}`];
  if (Array.isArray(value)) {
    return value.length === 0 ? [`${name}[]=`] : value.flatMap((item) => formPairs(key, item));
  }
  if (isObject(value))
    return Object.entries(value).flatMap(([sub, item]) => formPairs(`${key}[${sub}]`, item));
  if (value === null) return [name];
  return [`${name}=${formEncode(JSON.stringify(value) ?? '')}`];
}

// ---------------------------------------------------------------------------------------------------------------
// Hostile values

const SQL_LIKE = [
  "' OR 1=1 --",
  '"; DROP TABLE users; --',
  "' OR '1'='1' /*",
  `${KNOWN_EMAIL}' --`,
  '1; DELETE FROM sessions WHERE 1=1',
  "' UNION SELECT hashed_password FROM users --",
  "%' OR email LIKE '%",
  "\\'; UPDATE users SET hashed_password = '' --",
];
const SCRIPT_LIKE = [
  '<script>alert(1)</script>',
  '"><svg onload=alert(1)>',
  'javascript:alert(1)',
  '{{7*7}}${7*7}',
  '<!--',
];
const ODD_STRINGS = [
  '',
  ' ',
  '\0',
  'a\0b@example.com',
  '__proto__',
  'constructor',
  'toString',
  'null',
  'undefined',
  '[object Object]',
  'NaN',
  '%',
  '%zz',
  '%00',
  '%E4',
  '+',
  '&email=attacker@example.com',
  '../../etc/passwd',
  '%s%s%s%n',
  '\u202egnp.exe',
  '\ud800',
  '\udfff@example.com',
  'x\udbff\udbffy@example.com',
  '\ud835\udd1e\ud835\udd1f@\ud835\udd22.com',
  'ü@例え.jp',
  'a@b',
  '@',
  'a@@b',
  'A'.repeat(43),
];
/** The known account's email, normalising to it or looking like it. */
const KNOWN_VARIANTS = [
  KNOWN_EMAIL,
  KNOWN_EMAIL.toUpperCase(),
  ` ${KNOWN_EMAIL}\t`,
  `${KNOWN_EMAIL}\0`,
  `${KNOWN_EMAIL}\n`,
  KNOWN_EMAIL.replace('@', '\0@'),
  KNOWN_EMAIL.replace('@', '\uff20'),
  `${KNOWN_EMAIL}\u200b`,
  `${KNOWN_EMAIL},${KNOWN_EMAIL}`,
];
/** The known password and near misses, around bcrypt's 72-byte and the policy's 8-byte bounds. */
const PASSWORD_VARIANTS = [
  PASSWORD,
  `${PASSWORD}\0`,
  `${PASSWORD}\0garbage`,
  PASSWORD.toUpperCase(),
  ` ${PASSWORD}`,
  PASSWORD.slice(0, -1),
  `${PASSWORD}${'x'.repeat(60)}`,
  'x'.repeat(72),
  'x'.repeat(73),
  'é'.repeat(36),
  'é'.repeat(37),
  '😀'.repeat(18),
  '😀'.repeat(19),
  'short',
];
/** Long strings: past the email limit, near and past BODY_LIMIT_BYTES (64 KiB), and 1 MiB. */
const BIG_STRINGS = [
  'a'.repeat(255),
  `${'a'.repeat(243)}@example.com`,
  'a'.repeat(8192),
  'é'.repeat(30_000),
  '😀'.repeat(16_000),
  'a'.repeat(70_000),
  'a'.repeat(ONE_MIB),
  '\0'.repeat(ONE_MIB),
];

/** One character of hostile text: any code point, an unpaired surrogate, or one that parsers treat specially. */
const hostileChar: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit)) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      ...['\0', '\n', '\r', '\t', ' ', '\u2028', '\ufeff', '\u202e', '\u200b', '%', '&', '=', '+', ';'],
      ...['"', "'", '\\', '@', '<', '>', '{', '}', '😀'],
    ),
  },
);
const hostileText = fc.string({ unit: hostileChar, maxLength: 40 });
/** Shaped like a session or reset token (43 base64url characters) but never one that was issued. */
const tokenShaped = fc.stringMatching(/^[A-Za-z0-9_-]{43}$/);
/** Valid emails nobody has registered yet (or that an earlier run registered): registrations may succeed. */
const freshEmail = fc.nat({ max: 1_000_000 }).map((n) => `hostile-${n}@example.com`);

const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...ODD_STRINGS, ...SQL_LIKE, ...SCRIPT_LIKE) },
  { weight: 3, arbitrary: hostileText },
  { weight: 2, arbitrary: fc.constantFrom(...KNOWN_VARIANTS) },
  { weight: 2, arbitrary: fc.constantFrom(...PASSWORD_VARIANTS) },
  { weight: 1, arbitrary: fc.constantFrom(...BIG_STRINGS) },
  { weight: 1, arbitrary: freshEmail },
  { weight: 1, arbitrary: tokenShaped },
);

/** Nesting `depth` levels deep: arrays, objects, or objects hiding a prototype-poisoning key at the bottom. */
function deeplyNested(depth: number, kind: 'array' | 'object' | 'constructor'): RawJson {
  if (kind === 'array') return new RawJson(`${'['.repeat(depth)}${']'.repeat(depth)}`);
  const bottom = kind === 'object' ? '1' : '{"constructor":{"prototype":{"admin":true}}}';
  return new RawJson(`${'{"a":'.repeat(depth)}${bottom}${'}'.repeat(depth)}`);
}

const rawJson: fc.Arbitrary<RawJson> = fc.oneof(
  fc
    .constantFrom(
      ...['1e999', '-0', '123456789012345678901234567890', '0x10', 'NaN', 'undefined', "'single'"],
      ...['"\\u0000"', '"\\ud800"', '"\\udc00\\ud800"', '"unterminated', '[,]', '"\\x41"'],
      ...['{"$ne":null}', '{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"admin":true}}}'],
    )
    .map((text) => new RawJson(text)),
  fc
    .tuple(
      fc.constantFrom(2, 100, 1_000, 10_000, 30_000),
      fc.constantFrom('array' as const, 'object' as const, 'constructor' as const),
    )
    .map(([depth, kind]) => deeplyNested(depth, kind)),
);

/** A value for a field: a hostile string, a wrong type, an array, an object, raw JSON or any JSON value. */
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 12, arbitrary: hostileString },
  {
    weight: 2,
    arbitrary: fc.constantFrom(null, true, false, 0, -1, 1.5, 1e308, Number.MAX_SAFE_INTEGER + 2),
  },
  { weight: 1, arbitrary: fc.array(hostileString, { maxLength: 3 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>({}, [], [[]], { $ne: null }, { $gt: '' }, { email: KNOWN_EMAIL }, [
      KNOWN_EMAIL,
      KNOWN_EMAIL,
    ]),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: rawJson },
);

/** Printable ASCII and obs-text (0x80-0xFF): what a header value can carry over real HTTP. */
const headerText = fc.string({
  unit: fc.oneof(
    fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }),
    fc.integer({ min: 0x80, max: 0xff }).map((code) => String.fromCharCode(code)),
  ),
  maxLength: 60,
});

/** `arbitrary` in one case out of `oneIn`, otherwise undefined: for parts of a request that are usually absent. */
function sometimes<T>(arbitrary: fc.Arbitrary<T>, oneIn: number): fc.Arbitrary<T | undefined> {
  return fc.oneof({ weight: oneIn - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary });
}

/** The known account's email as clients may write it, or a fresh one: the start of a request that gets far. */
const plausibleEmail = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(KNOWN_EMAIL, KNOWN_EMAIL.toUpperCase(), ` ${KNOWN_EMAIL}\t`) },
  { weight: 1, arbitrary: freshEmail },
);
const plausiblePassword = fc.oneof(
  { weight: 2, arbitrary: fc.constant(PASSWORD) },
  { weight: 3, arbitrary: fc.constantFrom(...PASSWORD_VARIANTS) },
);
/** Plausible values by field name (REST and GraphQL spellings); other names only get hostile values. */
const PLAUSIBLE: Readonly<Record<string, fc.Arbitrary<string>>> = {
  email: plausibleEmail,
  password: plausiblePassword,
  new_password: plausiblePassword,
  newPassword: plausiblePassword,
  reset_token: tokenShaped,
  resetToken: tokenShaped,
};

/**
 * A field's value, or undefined for a missing field (once in 8). Plausible three times in five, so that a request
 * often passes the checks before the field that is hostile and reaches the service and the database.
 */
function fieldValue(name: string): fc.Arbitrary<unknown> {
  const plausible = PLAUSIBLE[name];
  const value =
    plausible === undefined
      ? hostileValue
      : fc.oneof({ weight: 3, arbitrary: plausible }, { weight: 2, arbitrary: hostileValue });
  return fc.option(value, { nil: undefined, freq: 8 });
}

// ---------------------------------------------------------------------------------------------------------------
// Requests

interface BodyRoute {
  readonly method: Method;
  readonly url: string;
  readonly fields: readonly string[];
}

const BODY_ROUTES: readonly BodyRoute[] = [
  { method: 'POST', url: '/users', fields: ['email', 'password'] },
  { method: 'POST', url: '/sessions', fields: ['email', 'password'] },
  { method: 'POST', url: '/reset_password', fields: ['email'] },
  { method: 'PUT', url: '/reset_password', fields: ['email', 'reset_token', 'new_password'] },
];

const JSON_TYPE = 'application/json';
const FORM_TYPE = 'application/x-www-form-urlencoded';

/** Keys besides a route's own: its own again (duplicates), prototype names, near misses and random text. */
const extraKey = fc.oneof(
  fc.constantFrom(
    ...['email', 'password', 'reset_token', 'new_password', '__proto__', 'constructor', 'prototype'],
    ...['email[]', 'email[$ne]', 'Email', ' email', 'email\0', ''],
  ),
  hostileText,
);

/** How a REST body is written: a JSON object, a form, or a whole JSON value that is not an object. */
type BodyEncoding = { kind: 'json' } | { kind: 'form' } | { kind: 'top-level'; body: unknown };

const bodyEncoding: fc.Arbitrary<BodyEncoding> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<BodyEncoding>({ kind: 'json' }) },
  { weight: 3, arbitrary: fc.constant<BodyEncoding>({ kind: 'form' }) },
  { weight: 1, arbitrary: hostileValue.map((body): BodyEncoding => ({ kind: 'top-level', body })) },
);

/**
 * A REST call whose every field is missing or hostile, sent as JSON (duplicate keys included), as a form
 * (arrays as repeated keys, objects as bracket keys), or as a JSON body that is not an object at all.
 */
const restBodyRequest: fc.Arbitrary<HostileRequest> = fc
  .constantFrom(...BODY_ROUTES)
  .chain((route) =>
    fc.record({
      route: fc.constant(route),
      values: fc.tuple(...route.fields.map(fieldValue)),
      extras: fc.array(fc.tuple(extraKey, hostileValue), { maxLength: 2 }),
      encoding: bodyEncoding,
    }),
  )
  .map(({ route, values, extras, encoding }) => {
    const entries: [string, unknown][] = [];
    route.fields.forEach((field, index) => {
      if (values[index] !== undefined) entries.push([field, values[index]]);
    });
    entries.push(...extras);
    if (encoding.kind === 'form') {
      const payload = entries.flatMap(([key, value]) => formPairs(key, value)).join('&');
      return new HostileRequest(route.method, route.url, { 'content-type': FORM_TYPE }, payload);
    }
    const payload = encoding.kind === 'top-level' ? jsonText(encoding.body) : jsonObjectText(entries);
    return new HostileRequest(route.method, route.url, { 'content-type': JSON_TYPE }, payload);
  });

const ANY_ROUTE: readonly (readonly [Method, string])[] = [
  ['GET', '/'],
  ['POST', '/users'],
  ['POST', '/sessions'],
  ['DELETE', '/sessions'],
  ['GET', '/profile'],
  ['POST', '/reset_password'],
  ['PUT', '/reset_password'],
  ['POST', '/graphql'],
];

const CONTENT_TYPES = [
  ...[JSON_TYPE, FORM_TYPE, 'text/plain', 'text/plain; charset=utf-8', 'multipart/form-data; boundary=x'],
  ...['multipart/form-data', 'application/json; charset=latin1', 'application/json; charset=utf-16'],
  ...['application/x-www-form-urlencoded; charset=iso-8859-1', 'application/json; charset=utf-8'],
  ...['application/json;charset="UTF-8"', 'APPLICATION/JSON', 'application/json ; charset = utf-8'],
  ...['application/jsonp', 'application/json-patch+json', 'application/vnd.api+json', 'application/graphql'],
  ...['text/json', 'application/xml', 'text/html', 'application/octet-stream', '*/*', '', ';'],
  ...['application/json; charset=', 'application/json; charset=utf-8; charset=latin1'],
  ...['application/x-www-form-urlencoded, application/json', 'application/json\tx'],
];

const FORM_PIECES = ['email', 'password', 'reset_token', 'new_password', '=', '&', '%', '%zz', '%E4', '%00'];
const JSON_PIECES = ['{', '}', '[', ']', '"email"', '"password"', ':', ',', '"x"', 'null', '1', '"\\u0000"'];

/** A body of any shape: valid JSON or form credentials, raw bytes (often not UTF-8), text, or near-valid soup. */
const anyBody: fc.Arbitrary<string | Buffer | undefined> = fc.oneof(
  fc
    .tuple(fc.oneof(freshEmail, fc.constant(KNOWN_EMAIL)), fc.constantFrom(PASSWORD, 'wrong password'))
    .map(([email, password]) => JSON.stringify({ email, password })),
  fc
    .tuple(fc.oneof(freshEmail, fc.constant(KNOWN_EMAIL)), fc.constantFrom(PASSWORD, 'wrong password'))
    .map(([email, password]) => new URLSearchParams({ email, password }).toString()),
  fc.uint8Array({ maxLength: 256 }).map((bytes) => Buffer.from(bytes)),
  hostileText,
  fc.array(fc.constantFrom(...FORM_PIECES), { maxLength: 20 }).map((pieces) => pieces.join('')),
  fc.array(fc.constantFrom(...JSON_PIECES), { maxLength: 20 }).map((pieces) => pieces.join('')),
  fc.constantFrom(undefined, ''),
);

/**
 * Any route with a wrong, odd or missing Content-Type, an optional Content-Encoding and a Content-Length that
 * may not match the body (only integers: Node's own parser refuses anything else before the app sees it).
 */
const contentTypeRequest: fc.Arbitrary<HostileRequest> = fc
  .record({
    route: fc.constantFrom(...ANY_ROUTE),
    // Missing once in 8; the right types often enough that the odd encodings, lengths and bodies get read.
    contentType: fc.option(
      fc.oneof(
        { weight: 2, arbitrary: fc.constantFrom(JSON_TYPE, FORM_TYPE) },
        { weight: 3, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
        { weight: 1, arbitrary: headerText },
      ),
      { nil: undefined, freq: 8 },
    ),
    contentEncoding: sometimes(fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'IDENTITY', '*', ''), 5),
    contentLength: sometimes(fc.constantFrom('zero', 'short', 'long', 'huge'), 5),
    body: anyBody,
  })
  .map(({ route: [method, url], contentType, contentEncoding, contentLength, body }) => {
    const headers: Record<string, string> = {};
    if (contentType !== undefined) headers['content-type'] = contentType;
    if (contentEncoding !== undefined) headers['content-encoding'] = contentEncoding;
    if (contentLength !== undefined && body !== undefined) {
      const length = Buffer.byteLength(body);
      const lengths = { zero: 0, short: Math.max(0, length - 1), long: length + 1, huge: 99_999_999 };
      headers['content-length'] = String(lengths[contentLength]);
    }
    return new HostileRequest(method, url, headers, body);
  });

/** A session_id value that is not a live session: garbage, token-shaped, quoted, escaped, or 8 KB long. */
const garbageSessionValue = fc.oneof(
  headerText,
  tokenShaped,
  fc.constantFrom(
    ...['', '""', `"${'A'.repeat(43)}"`, '%', '%zz', '%00', '%E4', 'null', '[object Object]'],
    ...['A'.repeat(42), 'A'.repeat(44), 'A'.repeat(8192), `${'A'.repeat(43)}=`, ' ', '\t'],
  ),
);
const cookieName = fc.oneof(
  fc.constantFrom('session_id', 'SESSION_ID', 'session_id ', ' session_id', 'session%5Fid', '__proto__', 'a'),
  fc.stringMatching(/^[A-Za-z0-9_!#$%&'*+.^`|~-]{1,12}$/),
);
/** One cookie-pair or a piece of broken cookie syntax. */
const cookiePiece = fc.oneof(
  { weight: 3, arbitrary: garbageSessionValue.map((value) => `session_id=${value}`) },
  { weight: 2, arbitrary: fc.tuple(cookieName, headerText).map(([name, value]) => `${name}=${value}`) },
  { weight: 2, arbitrary: fc.constant(`session_id=${REAL_SESSION}`) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      ...['session_id', '=', ';', 'session_id==', ' session_id = x ', 'session_id\t=\tx', '=session_id'],
      `big=${'x'.repeat(8192)}`,
    ),
  },
);
const cookieHeader: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(undefined, '') },
  {
    weight: 4,
    arbitrary: fc
      .tuple(fc.array(cookiePiece, { minLength: 1, maxLength: 6 }), fc.constantFrom('; ', ';', ', ', ' ; '))
      .map(([pieces, separator]) => pieces.join(separator)),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.integer({ min: 20, max: 300 }),
        garbageSessionValue,
        fc.option(fc.constantFrom(`session_id=${REAL_SESSION}`, 'session_id=x'), { nil: undefined }),
      )
      .map(([count, value, session]) => {
        const many = Array.from({ length: count }, (_, index) => `c${index}=${value}`);
        return [...many, ...(session === undefined ? [] : [session])].join('; ');
      }),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(garbageSessionValue, fc.boolean())
      .map(([garbage, realFirst]) =>
        (realFirst
          ? [`session_id=${REAL_SESSION}`, `session_id=${garbage}`]
          : [`session_id=${garbage}`, `session_id=${REAL_SESSION}`]
        ).join('; '),
      ),
  },
);

/** Headers of a GraphQL GET that passes Apollo's CSRF check. */
const PREFLIGHT = { 'apollo-require-preflight': 'true' };

/** A GraphQL POST with this JSON text as its body. */
function graphqlPost(body: string, headers: Record<string, string> = {}): HostileRequest {
  return new HostileRequest('POST', '/graphql', { 'content-type': JSON_TYPE, ...headers }, body);
}

/** A GraphQL GET with these search parameters. */
function graphqlGet(
  params: Record<string, string>,
  headers: Record<string, string> = PREFLIGHT,
): HostileRequest {
  return new HostileRequest('GET', `/graphql?${new URLSearchParams(params).toString()}`, headers);
}

/** The routes that read the session: each answers as if signed out unless the cookie carries a live session. */
const SESSION_ROUTES: readonly ((cookie: Record<string, string>) => HostileRequest)[] = [
  (cookie) => new HostileRequest('GET', '/profile', cookie),
  (cookie) => new HostileRequest('DELETE', '/sessions', cookie),
  (cookie) => graphqlPost(JSON.stringify({ query: PROFILE }), cookie),
  (cookie) => graphqlPost(JSON.stringify({ query: LOGOUT }), cookie),
  (cookie) => graphqlGet({ query: PROFILE }, { ...PREFLIGHT, ...cookie }),
];

/** A session route with a malformed, oversized, crowded or duplicated Cookie header. */
const cookieRequest: fc.Arbitrary<HostileRequest> = fc
  .tuple(fc.constantFrom(...SESSION_ROUTES), cookieHeader)
  .map(([route, cookie]) => route(cookie === undefined ? {} : { cookie }));

const GRAPHQL_PIECES = [
  ...[
    '{',
    '}',
    '(',
    ')',
    '[',
    ']',
    ':',
    '!',
    '=',
    '...',
    '$email',
    '$e',
    'String!',
    'Int',
    '@include(if: true)',
  ],
  ...[
    '@skip(if: $x)',
    'query',
    'mutation',
    'subscription',
    'fragment',
    'F',
    'on',
    'Query',
    'Mutation',
    'User',
  ],
  ...['profile', 'id', 'email', 'createdAt', '__typename', '__schema', 'login', 'register', 'logout'],
  ...['requestPasswordReset', 'resetPassword', 'email:', 'password:', '"x"', '"""block"""', '"\\u0000"'],
  ...['"\\uD800"', '1', '-1.5e300', 'true', 'null', '#', '\n', ',', 'a:', 'b:'],
];

const SPECIAL_DOCUMENTS = [
  ...['', ' ', '#', '{}', '{ }', 'query', 'mutation', '{ profile { id } } { profile { id } }'],
  '{ __schema { types { fields { type { ofType { ofType { ofType { name } } } } } } } }',
  'query A { profile { id } } query A { profile { id } }',
  'fragment F on Query { ...F } { ...F }',
  'subscription { profile { id } }',
  '{ profile(email: "x") { id } }',
  '{ profile { password hashedPassword resetToken } }',
  'mutation { logout logout }',
  'mutation { register(email: "x@example.com") { id } }',
  'mutation ($e: String!) { register(email: $e, password: $e) { id } }',
  'query ($x: Int = "no") { profile { id } }',
  '{ __type(name: "User") { fields { name } } }',
  'query { ... on Mutation { logout } }',
  'mutation { a: logout b: register(email: "bad", password: "x") { id } }',
  `mutation { a: login(email: "${KNOWN_EMAIL}", password: "${PASSWORD}") { id } b: login(email: "${KNOWN_EMAIL}", password: "${PASSWORD}") { id } }`,
];

/** Documents nested `depth` levels deep in every way GraphQL nests: selections, values, parentheses, fragments. */
const NESTINGS: Readonly<Record<string, (depth: number) => string>> = {
  braces: (n) => `${'{'.repeat(n)}${'}'.repeat(n)}`,
  unclosed: (n) => '{'.repeat(n),
  fields: (n) => `{ profile { ${'profile { '.repeat(n)}id${' }'.repeat(n)} } }`,
  lists: (n) => `mutation { login(email: ${'['.repeat(n)}"a"${']'.repeat(n)}, password: "x") { id } }`,
  objects: (n) => `mutation { login(email: ${'{a: '.repeat(n)}1${'}'.repeat(n)}, password: "x") { id } }`,
  parentheses: (n) => `query Q${'('.repeat(n)} { profile { id } }`,
  directives: (n) => `{ profile ${'@include(if: true) '.repeat(n)}{ id } }`,
  fragments: (n) =>
    `{ ...F0 } ${Array.from({ length: n }, (_, i) => `fragment F${i} on Query { ...F${i + 1} }`).join(' ')} ` +
    `fragment F${n} on Query { __typename }`,
};

const depth = fc.oneof(fc.integer({ min: 1, max: 50 }), fc.constantFrom(999, 1_000, 1_001, 5_000, 20_000));

/** Selections repeated under many aliases, in queries and in (limited) auth mutations. */
const ALIASED_FIELDS = [
  'profile { id }',
  '__typename',
  'logout',
  'register(email: "aliased@example.com", password: "correct horse battery") { id }',
  `login(email: "${KNOWN_EMAIL}", password: "wrong password") { id }`,
  `requestPasswordReset(email: "${KNOWN_EMAIL}") { email }`,
];

/** A selection run only as a mutation. */
function isMutationField(field: string): boolean {
  return /^(logout|register|login|requestPasswordReset)/.test(field);
}

const aliasedDocument: fc.Arbitrary<string> = fc
  .tuple(
    fc.oneof(fc.integer({ min: 1, max: 20 }), fc.constantFrom(100, 1_000, 3_000)),
    fc.constantFrom(...ALIASED_FIELDS),
  )
  .map(([count, field]) => {
    const selections = Array.from({ length: count }, (_, i) => `a${i}: ${field}`).join(' ');
    return `${isMutationField(field) ? 'mutation ' : ''}{ ${selections} }`;
  });

const garbageDocument: fc.Arbitrary<string> = fc.oneof(
  { weight: 1, arbitrary: fc.string({ unit: hostileChar, maxLength: 200 }) },
  {
    weight: 1,
    arbitrary: fc
      .array(fc.constantFrom(...GRAPHQL_PIECES), { maxLength: 80 })
      .map((pieces) => pieces.join(' ')),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom(...Object.keys(NESTINGS)), depth)
      .map(([kind, n]) => NESTINGS[kind](n)),
  },
  { weight: 2, arbitrary: aliasedDocument },
  { weight: 1, arbitrary: fc.constantFrom(...SPECIAL_DOCUMENTS) },
);

/** An `operationName` or `extensions` that may be of the wrong type, as JSON text. */
const operationNameText = fc.oneof(
  hostileString.map((name) => JSON.stringify(name)),
  fc.constantFrom('"A"', '"Q"', '"Register"', '""', 'null', '5', '[]', '{}'),
);
const extensionsText = fc.constantFrom(
  ...['5', '"x"', 'null', '[]', '{}', '{"persistedQuery":{"version":1,"sha256Hash":"00"}}'],
  '{"persistedQuery":null}',
);

/** A body field of a GraphQL POST, or nothing. */
function optionalMember(name: string, text: string | undefined): string {
  return text === undefined ? '' : `,${JSON.stringify(name)}:${text}`;
}

/** Garbage documents, POSTed (with garbage operationName and extensions) or sent by GET. */
const graphqlDocumentRequest: fc.Arbitrary<HostileRequest> = fc
  .record({
    query: garbageDocument,
    operationName: sometimes(operationNameText, 6),
    extensions: sometimes(extensionsText, 8),
    transport: fc.oneof(
      { weight: 6, arbitrary: fc.constant('post') },
      { weight: 2, arbitrary: fc.constant('get') },
      { weight: 1, arbitrary: fc.constant('get-without-preflight') },
    ),
  })
  .map(({ query, operationName, extensions, transport }) => {
    if (transport === 'post') {
      const body = `{"query":${JSON.stringify(query)}${optionalMember('operationName', operationName)}${optionalMember('extensions', extensions)}}`;
      return graphqlPost(body);
    }
    return graphqlGet({ query }, transport === 'get' ? PREFLIGHT : {});
  });

interface Operation {
  readonly document: string;
  readonly variables: readonly string[];
}

const OPERATIONS: readonly Operation[] = [
  { document: REGISTER, variables: ['email', 'password'] },
  { document: LOGIN, variables: ['email', 'password'] },
  { document: REQUEST_RESET, variables: ['email'] },
  { document: RESET, variables: ['email', 'resetToken', 'newPassword'] },
  { document: PROFILE, variables: [] },
  { document: LOGOUT, variables: [] },
];

/** A GraphQL literal for a hostile string or a wrong kind of literal. */
const graphqlLiteral = fc.oneof(
  hostileString.map((text) => JSON.stringify(text)),
  hostileString.map((text) => `"""${text}"""`),
  fc.constantFrom('123', 'true', 'null', '["x"]', '{a: 1}', '$undefined', 'ENUM_VALUE', '1e999'),
);

/** The auth mutations with their arguments written inline as hostile literals. */
const inlineOperation: fc.Arbitrary<Operation> = fc
  .tuple(
    fc.constantFrom(
      ['register', ['email', 'password'], '{ id email }'] as const,
      ['login', ['email', 'password'], '{ id email }'] as const,
      ['requestPasswordReset', ['email'], '{ email resetToken }'] as const,
      ['resetPassword', ['email', 'resetToken', 'newPassword'], ''] as const,
    ),
    fc.array(graphqlLiteral, { minLength: 3, maxLength: 3 }),
  )
  .map(([[field, args, selection], literals]) => ({
    document: `mutation { ${field}(${args.map((arg, i) => `${arg}: ${literals[i]}`).join(', ')}) ${selection} }`,
    variables: [],
  }));

/** `variables` as JSON text: each variable missing or hostile plus extra keys, or not an object at all. */
function variablesText(names: readonly string[]): fc.Arbitrary<string | undefined> {
  return fc.oneof(
    {
      weight: 6,
      arbitrary: fc
        .tuple(
          fc.tuple(...names.map(fieldValue)),
          fc.array(
            fc.tuple(fc.oneof(fc.constantFrom(...names, 'x', '__proto__'), hostileText), hostileValue),
            {
              maxLength: 2,
            },
          ),
        )
        .map(([values, extras]) => {
          const entries: [string, unknown][] = [];
          names.forEach((name, i) => {
            if (values[i] !== undefined) entries.push([name, values[i]]);
          });
          return jsonObjectText([...entries, ...extras]);
        }),
    },
    { weight: 1, arbitrary: hostileValue.map(jsonText) },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
}

/** Real operations (and hostile inline ones) with garbage variables, POSTed or sent by GET. */
const graphqlVariablesRequest: fc.Arbitrary<HostileRequest> = fc
  .oneof({ weight: 3, arbitrary: fc.constantFrom(...OPERATIONS) }, { weight: 1, arbitrary: inlineOperation })
  .chain((operation) =>
    fc.record({
      operation: fc.constant(operation),
      variables: variablesText(operation.variables),
      operationName: sometimes(operationNameText, 8),
      get: fc.boolean(),
    }),
  )
  .map(({ operation, variables, operationName, get }) => {
    if (get && !operation.document.trimStart().startsWith('mutation')) {
      return graphqlGet({ query: operation.document, ...(variables === undefined ? {} : { variables }) });
    }
    return graphqlPost(
      `{"query":${JSON.stringify(operation.document)}${optionalMember('variables', variables)}${optionalMember('operationName', operationName)}}`,
    );
  });

// ---------------------------------------------------------------------------------------------------------------
// Checks

/** One app under attack and what its answers have reported so far. */
interface Target {
  readonly app: TestApp;
  readonly rateLimited: boolean;
  /** Accounts the answers reported as created (POST /users 200, a non-null register), the known one aside. */
  registrations: number;
  /** Statuses and GraphQL error codes seen in the current property, to check that it reached its paths. */
  readonly seen: Set<string>;
}

/** What the database holds, in a form that shows any change. */
interface DatabaseState {
  readonly users: number;
  readonly userRows: string;
  readonly sessionRows: string;
  readonly resetTokenRows: string;
  readonly orphanSessions: number;
}

/** Every user and session row, the counts, and sessions whose user does not exist (plain SQL, either dialect). */
async function databaseState(app: TestApp): Promise<DatabaseState> {
  const connection = app.orm.em.getConnection();
  const line = (row: Record<string, unknown>): string =>
    Object.values(row)
      .map((value) => (value === null ? '-' : JSON.stringify(value)))
      .join('|');
  const users = await connection.execute<Record<string, unknown>[]>(
    'select id, email, hashed_password, updated_at from users order by id',
  );
  const resetTokens = await connection.execute<Record<string, unknown>[]>(
    'select id, user_id, token_hash, expires_at from password_reset_tokens order by id',
  );
  const sessions = await connection.execute<Record<string, unknown>[]>(
    'select id, user_id, token_hash, expires_at, last_seen_at from sessions order by id',
  );
  const orphans = await connection.execute<{ n: number }[]>(
    'select cast(count(*) as integer) as n from sessions s left join users u on u.id = s.user_id where u.id is null',
  );
  return {
    users: users.length,
    userRows: users.map(line).join('\n'),
    sessionRows: sessions.map(line).join('\n'),
    resetTokenRows: resetTokens.map(line).join('\n'),
    orphanSessions: Number(orphans[0]?.n),
  };
}

/** The response keys under which an operation of this type selects this root field (aliases, fragments). */
function rootKeys(query: string | null, operation: OperationTypeNode, field: string): string[] {
  if (query === null) return [];
  let document: DocumentNode;
  try {
    document = parse(query);
  } catch {
    return [];
  }
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const keys = new Set<string>();
  const visit = (selectionSet: SelectionSetNode, seen: Set<string>): void => {
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value === field) keys.add(selection.alias?.value ?? field);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        visit(selection.selectionSet, seen);
      } else {
        const fragment = fragments.get(selection.name.value);
        if (fragment === undefined || seen.has(fragment.name.value)) continue;
        seen.add(fragment.name.value);
        visit(fragment.selectionSet, seen);
      }
    }
  };
  for (const definition of document.definitions) {
    if (definition.kind === Kind.OPERATION_DEFINITION && definition.operation === operation) {
      visit(definition.selectionSet, new Set());
    }
  }
  return [...keys];
}

/** The GraphQL document a request carries, if any: the `query` of a JSON body or of the query string. */
function documentOf(request: HostileRequest): string | null {
  if (request.method === 'GET') return new URL(request.url, 'http://localhost').searchParams.get('query');
  if (request.payload === undefined) return null;
  try {
    const body: unknown = JSON.parse(request.payload.toString());
    return isObject(body) && typeof body.query === 'string' ? body.query : null;
  } catch {
    return null;
  }
}

/** Whether the answer hands out a session cookie (not the cleared one). */
function issuesSessionCookie(response: LightMyRequestResponse): boolean {
  const header = response.headers['set-cookie'];
  const cookies = header === undefined ? [] : Array.isArray(header) ? header : [header];
  return cookies.some((cookie) => cookie.startsWith('session_id=') && !cookie.startsWith('session_id=;'));
}

/** What one answer showed: whether the request succeeded, and how many accounts it reported created. */
interface Outcome {
  readonly succeeded: boolean;
  readonly registered: number;
}

/**
 * The invariants of one answer: below 500, a JSON object of the documented shape, no leak, no session for a
 * request without one, and a session cookie only from a successful request. Returns what it reported.
 */
function checkAnswer(
  target: Target,
  request: HostileRequest,
  response: LightMyRequestResponse,
  carriesLiveSession: boolean,
): Outcome {
  const status = response.statusCode;
  target.seen.add(String(status));
  expect(status).toBeLessThan(500);
  expect([200, 302, 400, 401, 403, 404, 405, 413, 415, ...(target.rateLimited ? [429] : [])]).toContain(
    status,
  );
  const everything = `${response.body}\n${JSON.stringify(response.headers)}`;
  for (const pattern of LEAK_PATTERNS) expect(everything).not.toMatch(pattern);
  expect(everything).not.toContain(process.cwd());
  if (status === 429) expect(response.headers['retry-after']).toMatch(/^\d+$/);

  if (status === 302) {
    expect([request.method, request.path, response.headers.location, response.body]).toEqual([
      'DELETE',
      '/sessions',
      '/',
      '',
    ]);
    expect(carriesLiveSession).toBe(true);
    return { succeeded: true, registered: 0 };
  }
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  const body: unknown = JSON.parse(response.body);
  if (!isObject(body)) throw new Error(`the answer is not a JSON object: ${response.body}`);

  const outcome =
    request.path === '/graphql'
      ? checkGraphQL(target, request, status, body, carriesLiveSession)
      : checkRest(request, status, body, carriesLiveSession);
  if (issuesSessionCookie(response)) expect(outcome.succeeded).toBe(true);
  return outcome;
}

/** REST: an error is exactly `{"message": string}`; a success is an object of strings. */
function checkRest(
  request: HostileRequest,
  status: number,
  body: Record<string, unknown>,
  carriesLiveSession: boolean,
): Outcome {
  if (status >= 400) {
    expect(Object.keys(body)).toEqual(['message']);
    expect(typeof body.message).toBe('string');
  } else {
    expect(Object.values(body).every((value) => typeof value === 'string')).toBe(true);
  }
  // Without a live session nothing authenticates (a 302 from DELETE /sessions is checked by the caller).
  if (request.path === '/profile' && request.method === 'GET' && status === 200) {
    expect(carriesLiveSession).toBe(true);
    expect(body).toEqual({ email: KNOWN_EMAIL });
  }
  const registered = request.method === 'POST' && request.path === '/users' && status === 200 ? 1 : 0;
  return { succeeded: status < 400, registered };
}

/**
 * GraphQL: errors carry a string message and a string extensions.code that is never INTERNAL_SERVER_ERROR (a
 * hidden 500); a refusal before Apollo (413, 415, bad JSON) is REST-shaped; without a live session, profile is null
 * and logout is false.
 */
function checkGraphQL(
  target: Target,
  request: HostileRequest,
  status: number,
  body: Record<string, unknown>,
  carriesLiveSession: boolean,
): Outcome {
  if (body.errors !== undefined) {
    expect(Array.isArray(body.errors)).toBe(true);
    const errors = body.errors as unknown[];
    expect(errors.length).toBeGreaterThan(0);
    for (const error of errors) {
      if (!isObject(error) || !isObject(error.extensions))
        throw new Error(`malformed GraphQL error: ${jsonText(error)}`);
      expect(typeof error.message).toBe('string');
      const code = error.extensions.code;
      if (typeof code !== 'string')
        throw new Error(`GraphQL error without a string code: ${jsonText(error)}`);
      target.seen.add(code);
      expect(code).not.toBe('INTERNAL_SERVER_ERROR');
      expect(Object.keys(error.extensions)).not.toContain('stacktrace');
      if (code === 'RATE_LIMITED') {
        expect(target.rateLimited).toBe(true);
        expect(typeof error.extensions.retryAfterSeconds).toBe('number');
      }
    }
  } else if (status >= 400) {
    expect(Object.keys(body)).toEqual(['message']);
    expect(typeof body.message).toBe('string');
  } else {
    expect(isObject(body.data)).toBe(true);
  }

  const data = isObject(body.data) ? body.data : null;
  if (status !== 200 || data === null) return { succeeded: false, registered: 0 };
  const document = documentOf(request);
  for (const key of rootKeys(document, OperationTypeNode.QUERY, 'profile')) {
    if (!carriesLiveSession) expect(data[key]).toBeNull();
    else if (data[key] !== null) expect(data[key]).toMatchObject({ email: KNOWN_EMAIL });
  }
  if (!carriesLiveSession) {
    for (const key of rootKeys(document, OperationTypeNode.MUTATION, 'logout')) expect(data[key]).toBe(false);
  }
  const registered = rootKeys(document, OperationTypeNode.MUTATION, 'register').filter(
    (key) => data[key] !== null && data[key] !== undefined,
  ).length;
  return { succeeded: true, registered };
}

/** Rejects when `promise` takes longer than ANSWER_TIMEOUT_MS: the server hung on this request. */
async function withinTimeout<T>(promise: Promise<T>, request: HostileRequest): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${ANSWER_TIMEOUT_MS} ms to ${request[fc.toStringMethod]()}`)),
      ANSWER_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A fresh session of the known account, from the service itself so that no rate limit counts it. */
async function liveSessionToken(app: TestApp): Promise<string> {
  try {
    return valueOrThrow(await app.accounts.login(KNOWN_EMAIL, PASSWORD)).token;
  } catch (error) {
    throw new Error(`the known account no longer logs in with its password: ${String(error)}`);
  }
}

/**
 * Sends one generated request and checks every invariant: those of the answer, then that the users count moved
 * by exactly the registrations it reported, no session outlives its user, and a failed request changed nothing.
 */
async function attack(target: Target, template: HostileRequest): Promise<void> {
  const { app } = target;
  const token = template.wantsRealSession ? await liveSessionToken(app) : null;
  const request = token === null ? template : template.withSessionToken(token);
  const before = await databaseState(app);
  const options: InjectOptions = {
    method: request.method,
    url: request.url,
    headers: request.headers,
    ...(request.payload === undefined ? {} : { payload: request.payload }),
  };
  const response = await withinTimeout(app.server.inject(options), request);
  const after = await databaseState(app);
  try {
    const carriesLiveSession = token !== null && (request.headers.cookie ?? '').includes(token);
    const outcome = checkAnswer(target, request, response, carriesLiveSession);
    target.registrations += outcome.registered;
    expect(after.orphanSessions).toBe(0);
    expect(after.users).toBe(before.users + outcome.registered);
    if (!outcome.succeeded) {
      expect(after.userRows).toBe(before.userRows);
      expect(after.sessionRows).toBe(before.sessionRows);
      expect(after.resetTokenRows).toBe(before.resetTokenRows);
    }
  } catch (error) {
    if (error instanceof Error) {
      error.message = `${request[fc.toStringMethod]()}\nanswered ${response.statusCode} ${response.body.slice(0, 500)}\n${error.message}`;
    }
    throw error;
  }
}

/** Resolves after `ms` milliseconds. */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * After a property: the server still answers GET /, the users table holds the known account plus exactly the
 * reported registrations, no session outlives its user, nothing was logged as an error, and the known account
 * logs in with its password (after waiting out a login back-off the hostile guesses may have earned it).
 */
async function expectUnharmed(target: Target, logLinesBefore: number): Promise<void> {
  const { app } = target;
  const home = await app.server.inject({ method: 'GET', url: '/' });
  expect([home.statusCode, home.body]).toEqual([200, '{"message":"Bienvenue"}']);

  const state = await databaseState(app);
  expect(state.users).toBe(1 + target.registrations);
  expect(state.orphanSessions).toBe(0);

  const errorLines = app.logLines
    .slice(logLinesBefore)
    .filter((line) => (JSON.parse(line) as { level: number }).level >= 50);
  expect(errorLines).toEqual([]);

  const login = () =>
    app.server.inject({
      method: 'POST',
      url: '/sessions',
      remoteAddress: CHECK_ADDRESS,
      headers: { 'content-type': JSON_TYPE },
      payload: JSON.stringify({ email: KNOWN_EMAIL, password: PASSWORD }),
    });
  let answer = await login();
  if (target.rateLimited && answer.statusCode === 429) {
    await sleep(Number(answer.headers['retry-after']) * 1000 + 100);
    answer = await login();
  }
  expect([answer.statusCode, answer.body]).toEqual([
    200,
    JSON.stringify({ email: KNOWN_EMAIL, message: 'logged in' }),
  ]);
}

/** Starts an app, registers the known account through POST /users and signs it in once. */
async function startTarget(env: Record<string, string>): Promise<Target> {
  const app = await createTestApp(env);
  const response = await app.server.inject({
    method: 'POST',
    url: '/users',
    remoteAddress: SETUP_ADDRESS,
    headers: { 'content-type': JSON_TYPE },
    payload: JSON.stringify({ email: KNOWN_EMAIL, password: PASSWORD }),
  });
  expect(response.statusCode).toBe(200);
  // A session the hostile requests never carry: a failed request that ended it would show in the sessions table.
  const login = await app.server.inject({
    method: 'POST',
    url: '/sessions',
    remoteAddress: SETUP_ADDRESS,
    headers: { 'content-type': JSON_TYPE },
    payload: JSON.stringify({ email: KNOWN_EMAIL, password: PASSWORD }),
  });
  expect(login.statusCode).toBe(200);
  return { app, rateLimited: env.RATE_LIMIT === 'on', registrations: 0, seen: new Set() };
}

/**
 * Runs `numRuns` generated requests against the target, each checked by `attack`, then checks the app is
 * unharmed and that the property reached every status or code in `mustSee` (so it did not degenerate).
 */
async function runProperty(
  target: Target,
  arbitrary: fc.Arbitrary<HostileRequest>,
  numRuns: number,
  mustSee: readonly string[],
): Promise<void> {
  const logLinesBefore = target.app.logLines.length;
  target.seen.clear();
  await fc.assert(
    fc.asyncProperty(arbitrary, (request) => attack(target, request)),
    { numRuns },
  );
  await expectUnharmed(target, logLinesBefore);
  expect([...target.seen]).toEqual(expect.arrayContaining([...mustSee]));
}

// ---------------------------------------------------------------------------------------------------------------
// Properties

describe('hostile input with rate limits off', () => {
  let target: Target;
  beforeAll(async () => {
    target = await startTarget({});
  });
  afterAll(async () => {
    await target.app.close();
  });

  it('REST bodies with every field missing, null, mistyped, nested, huge, unicode, NUL, SQL- or script-like', async () => {
    await runProperty(target, restBodyRequest, 300, ['200', '400', '401', '403', '413']);
  });

  it('wrong, odd and missing content types, encodings and lengths, with any body on any route', async () => {
    await runProperty(target, contentTypeRequest, 200, ['400', '415']);
  });

  it('malformed, oversized, crowded and duplicated cookies on every session route', async () => {
    await runProperty(target, cookieRequest, 150, ['200', '302', '403']);
  });

  it('garbage GraphQL documents: random text, deep nesting, huge alias counts, bad names and extensions', async () => {
    await runProperty(target, graphqlDocumentRequest, 250, [
      'GRAPHQL_PARSE_FAILED',
      'GRAPHQL_VALIDATION_FAILED',
    ]);
  });

  it('GraphQL operations with garbage variables and hostile inline literals', async () => {
    await runProperty(target, graphqlVariablesRequest, 250, ['BAD_USER_INPUT', 'BAD_REQUEST']);
  });
});

describe('hostile input with rate limits on', () => {
  let target: Target;
  beforeAll(async () => {
    // The login back-off is capped at 2 s so that the final login waits it out quickly.
    target = await startTarget({ RATE_LIMIT: 'on', RATE_LIMIT_LOGIN_BACKOFF_MAX_SECONDS: '2' });
  });
  afterAll(async () => {
    await target.app.close();
  });

  it('every kind of hostile request keeps the same invariants, with 429 as one more refusal', async () => {
    const anyHostileRequest = fc.oneof(
      restBodyRequest,
      contentTypeRequest,
      cookieRequest,
      graphqlDocumentRequest,
      graphqlVariablesRequest,
    );
    await runProperty(target, anyHostileRequest, 250, ['400', '429']);
  });
});
