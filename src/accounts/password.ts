// Password hashing with bcrypt (the exercise's `_hash_password`), including the dummy compare for unknown users.
import bcrypt from 'bcrypt';
import { randomBytes } from 'node:crypto';
import { Admission } from '../shared';
import { normalisePassword } from './input-policy';

/** Hashes a password with bcrypt at the given cost (a fresh random salt each time). */
export async function hashPassword(password: string, rounds: number): Promise<string> {
  return bcrypt.hash(password, rounds);
}

/** How many bcrypt operations may run at once, and how many may wait for a turn. */
export interface HashingLimits {
  readonly maxConcurrency: number;
  readonly maxQueue: number;
}

/**
 * Owns every bcrypt call the service makes, at one configured cost, behind one admission gate.
 *
 * bcrypt runs on libuv's thread pool and each hash keeps a core busy for its whole duration. Without a bound, a
 * burst of logins would fill the pool, and SQLite (whose queries run on the same pool) and the event loop would
 * queue behind it, so cheap requests like GET /profile would slow down with every login in flight. The gate lets
 * `maxConcurrency` hashes run, `maxQueue` wait, and refuses the rest at once with SERVICE_BUSY.
 */
export class PasswordHasher {
  private dummyHash: Promise<string> | undefined;
  /** The gate every bcrypt call passes; exposed so tests and metrics can read its load. */
  readonly admission: Admission;

  constructor(
    readonly rounds: number,
    limits: HashingLimits = { maxConcurrency: 1, maxQueue: 0 },
  ) {
    this.admission = new Admission(limits.maxConcurrency, limits.maxQueue);
  }

  /**
   * Hashes a new password at the configured cost.
   * @throws AuthError SERVICE_BUSY when too many hashes are running and waiting.
   */
  hash(password: string): Promise<string> {
    return this.admission.run(() => hashPassword(normalisePassword(password), this.rounds));
  }

  /**
   * Checks `password` against a stored bcrypt hash (bcrypt's compare is constant-time in the hash). `legacy` means
   * it matched only as typed, not in its NFKC form: the hash predates normalisation and should be replaced.
   * @throws AuthError SERVICE_BUSY when too many hashes are running and waiting.
   */
  async check(password: string, hashedPassword: string): Promise<'match' | 'legacy' | 'mismatch'> {
    const normalised = normalisePassword(password);
    if (await this.admission.run(() => bcrypt.compare(normalised, hashedPassword))) return 'match';
    // A hash made before passwords were normalised holds the password exactly as it was typed then. A second
    // compare is spent only on input that NFKC changes (never on ASCII), so such accounts are not locked out.
    if (
      normalised !== password &&
      (await this.admission.run(() => bcrypt.compare(password, hashedPassword)))
    ) {
      return 'legacy';
    }
    return 'mismatch';
  }

  /**
   * Whether `password` matches a stored bcrypt hash, in either form `check` accepts.
   * @throws AuthError SERVICE_BUSY when too many hashes are running and waiting.
   */
  async verify(password: string, hashedPassword: string): Promise<boolean> {
    return (await this.check(password, hashedPassword)) !== 'mismatch';
  }

  /**
   * Whether a stored hash was made at another cost than the configured one. Raising BCRYPT_ROUNDS then reaches
   * every account as its owner next logs in, the only moment the password is known; lowering it does too.
   */
  needsRehash(hashedPassword: string): boolean {
    try {
      return bcrypt.getRounds(hashedPassword) !== this.rounds;
    } catch {
      // Not a bcrypt hash at all: nothing verified against it, so there is no password to rehash.
      return false;
    }
  }

  /**
   * Runs one compare against a hash of the same cost that no password matches, and returns false.
   * Used when the email is unknown so that a failed login takes as long whether or not the account exists;
   * otherwise response time alone would let anyone enumerate registered emails.
   */
  async verifyDummy(password: string): Promise<false> {
    // Hashing a random secret once (lazily, at the same cost) gives a hash nobody can match.
    this.dummyHash ??= hashPassword(randomBytes(32).toString('base64url'), this.rounds);
    // The same compares `check` would spend, so an unknown email costs what a wrong password costs.
    await this.check(password, await this.dummyHash);
    return false;
  }

  /** Computes the dummy hash ahead of the first unknown-email login, so that one is not slower. */
  async warmUp(): Promise<void> {
    await this.verifyDummy('warm-up');
  }
}
