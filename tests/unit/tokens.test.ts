// Token generation, hashing and shape checks: 256-bit base64url tokens, stored only as SHA-256 hex.
import { createHash } from 'node:crypto';
import { generateToken, hashToken, isWellFormedToken } from '../../src/shared';

const TOKEN_LENGTH = 43;
const TOKEN_BYTES = 32;
const SAMPLE_SIZE = 1000;
const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

describe('generateToken', () => {
  it('returns 43 base64url characters', () => {
    expect(generateToken()).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('decodes to exactly 32 bytes and re-encodes to itself', () => {
    const token = generateToken();
    const bytes = Buffer.from(token, 'base64url');
    expect(bytes).toHaveLength(TOKEN_BYTES);
    expect(bytes.toString('base64url')).toBe(token);
  });

  it('never repeats across 1000 tokens', () => {
    const tokens = Array.from({ length: SAMPLE_SIZE }, () => generateToken());
    expect(new Set(tokens).size).toBe(SAMPLE_SIZE);
    expect(tokens.every((token) => token.length === TOKEN_LENGTH)).toBe(true);
  });

  it('uses every one of the 64 base64url characters across 1000 tokens', () => {
    // 42 of each token's 43 characters are uniform over all 64: one missing by chance has odds of about e^-660.
    const seen = new Set(Array.from({ length: SAMPLE_SIZE }, () => generateToken()).join(''));
    expect([...seen].sort()).toEqual([...BASE64URL_ALPHABET].sort());
  });
});

describe('hashToken', () => {
  it('is the SHA-256 hex of the token (FIPS 180-2 vector for "abc")', () => {
    expect(hashToken('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('agrees with node:crypto for a generated token', () => {
    const token = generateToken();
    expect(hashToken(token)).toBe(createHash('sha256').update(token, 'utf8').digest('hex'));
    expect(hashToken(token)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('differs from the token it hashes', () => {
    const token = generateToken();
    expect(hashToken(token)).not.toContain(token);
  });
});

describe('isWellFormedToken', () => {
  it('accepts a generated token', () => {
    expect(isWellFormedToken(generateToken())).toBe(true);
  });

  it('accepts 43 characters from the whole base64url alphabet', () => {
    expect(isWellFormedToken(`${'A'.repeat(39)}z9-_`)).toBe(true);
  });

  it.each([
    ['42 characters', 'A'.repeat(42)],
    ['44 characters', 'A'.repeat(44)],
    ['the empty string', ''],
    ['a "+" (base64, not base64url)', `${'A'.repeat(42)}+`],
    ['a "/" (base64, not base64url)', `${'A'.repeat(42)}/`],
    ['a "=" padding character', `${'A'.repeat(42)}=`],
    ['a trailing newline', `${'A'.repeat(43)}\n`],
    ['a space inside', `${'A'.repeat(21)} ${'A'.repeat(21)}`],
  ])('refuses a string with %s', (_case, value) => {
    expect(isWellFormedToken(value)).toBe(false);
  });

  it.each([
    ['undefined', undefined],
    ['null', null],
    ['a number', 5],
    ['an object', {}],
    ['an array holding a token', ['A'.repeat(43)]],
  ])('refuses %s', (_case, value) => {
    expect(isWellFormedToken(value)).toBe(false);
  });
});
