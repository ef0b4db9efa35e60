// Password hashing with bcrypt (the exercise's `_hash_password`), including the dummy compare for unknown users.
import bcrypt from 'bcrypt';
import { randomBytes } from 'node:crypto';

/** Hashes a password with bcrypt at the given cost (a fresh random salt each time). */
export async function hashPassword(password: string, rounds: number): Promise<string> {
  return bcrypt.hash(password, rounds);
}

/**
 * Owns every bcrypt call the service makes, at one configured cost. Keeping them in one object gives
 * later work (admission control, instrumentation) a single place to act on.
 */
export class PasswordHasher {
  private dummyHash: Promise<string> | undefined;

  constructor(readonly rounds: number) {}

  /** Hashes a new password at the configured cost. */
  hash(password: string): Promise<string> {
    return hashPassword(password, this.rounds);
  }

  /** Whether `password` matches a stored bcrypt hash. bcrypt's compare is constant-time in the hash. */
  verify(password: string, hashedPassword: string): Promise<boolean> {
    return bcrypt.compare(password, hashedPassword);
  }

  /**
   * Runs one compare against a hash of the same cost that no password matches, and returns false.
   * Used when the email is unknown so that a failed login takes as long whether or not the account exists;
   * otherwise response time alone would let anyone enumerate registered emails.
   */
  async verifyDummy(password: string): Promise<false> {
    // Hashing a random secret once (lazily, at the same cost) gives a hash nobody can match.
    this.dummyHash ??= hashPassword(randomBytes(32).toString('base64url'), this.rounds);
    await bcrypt.compare(password, await this.dummyHash);
    return false;
  }

  /** Computes the dummy hash ahead of the first unknown-email login, so that one is not slower. */
  async warmUp(): Promise<void> {
    await this.verifyDummy('warm-up');
  }
}
