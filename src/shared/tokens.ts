// Session and reset tokens: generation from the CSPRNG, the hash we store, and a cheap shape check.
import { createHash, randomBytes } from 'node:crypto';

/** 32 bytes = 256 bits of entropy; a UUID (the exercise's `_generate_uuid`) has only 122. */
const TOKEN_BYTES = 32;
/** base64url of 32 bytes, unpadded, is always 43 characters from this alphabet. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** A fresh secret token: 32 random bytes from the CSPRNG, base64url-encoded (replaces `_generate_uuid`). */
export function generateToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url');
}

/**
 * The SHA-256 (hex) of a token: what the database stores and is searched by.
 * A fast unsalted hash is right here, unlike for passwords: the token already has 256 bits of entropy,
 * so there is nothing to brute-force, and an indexed lookup by hash means comparison timing reveals nothing
 * about the secret itself.
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Whether a string could be one of our tokens; anything else is refused before touching the database. */
export function isWellFormedToken(value: unknown): value is string {
  return typeof value === 'string' && TOKEN_PATTERN.test(value);
}
