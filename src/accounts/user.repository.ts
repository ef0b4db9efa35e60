// Reads and writes of the `users` table (the exercise's DB class): the only code that queries users through the ORM.
import { SqlEntityRepository, type SqlEntityManager } from '@mikro-orm/knex';
import { AuthError } from '../errors';
import { User } from '../entities/user.entity';

/** Criteria or changes named by User field, as the exercise's `find_user_by(**kwargs)` took them. */
export type UserFields = Readonly<Record<string, unknown>>;

/**
 * Repository for users, bound to one EntityManager (a fork or a transaction).
 * Create one per unit of work: `new UserRepository(orm.em.fork())`.
 */
export class UserRepository extends SqlEntityRepository<User> {
  private readonly fieldNames: ReadonlySet<string>;

  constructor(em: SqlEntityManager) {
    super(em, User);
    this.fieldNames = new Set(em.getMetadata(User).props.map((prop) => prop.name));
  }

  /** Saves a new user and returns it. A duplicate email fails with MikroORM's UniqueConstraintViolationException. */
  async addUser(email: string, hashedPassword: string): Promise<User> {
    const user = new User(email, hashedPassword);
    await this.em.persistAndFlush(user);
    return user;
  }

  /**
   * The first user matching every criterion.
   * @throws AuthError INVALID_QUERY when a key is not a User field (or no criterion is given),
   *         USER_NOT_FOUND when nothing matches.
   */
  async findUserBy(criteria: UserFields): Promise<User> {
    this.assertFields(criteria, 'query');
    const user = await this.findOne(criteria, { orderBy: { id: 'asc' } });
    if (user === null) throw new AuthError('USER_NOT_FOUND', 'no user matches the criteria');
    return user;
  }

  /** The user with this normalised email, or null: for callers for whom absence is an expected answer. */
  findByEmail(email: string): Promise<User | null> {
    return this.findOne({ email });
  }

  /**
   * Applies `changes` to the user with this id and saves them.
   * @throws AuthError INVALID_QUERY when a key is not a changeable User field (nothing is written then),
   *         USER_NOT_FOUND when no user has this id.
   */
  async updateUser(id: number, changes: UserFields): Promise<User> {
    this.assertFields(changes, 'update');
    if ('id' in changes) throw new AuthError('INVALID_QUERY', 'a user id cannot be changed');
    const user = await this.findOne({ id });
    if (user === null) throw new AuthError('USER_NOT_FOUND', `no user has id ${id}`);
    this.em.assign(user, changes);
    await this.em.flush();
    return user;
  }

  /** Whether the user still has exactly this password hash (it changes with every reset). */
  async hasPasswordHash(userId: number, hashedPassword: string): Promise<boolean> {
    return (await this.count({ id: userId, hashedPassword })) === 1;
  }

  /**
   * Sets a new password hash unconditionally. The reset transaction runs it first: the UPDATE locks the user's row,
   * so a concurrent reset or change of the same account waits for this transaction instead of interleaving.
   */
  async setPasswordHash(userId: number, hashedPassword: string, now: Date): Promise<void> {
    await this.nativeUpdate({ id: userId }, { hashedPassword, updatedAt: now });
  }

  /**
   * Replaces a password hash only if it is still `expected`: a rehash at login must never undo a reset or a change
   * that committed while the login was checking the old password.
   * @returns whether the hash was replaced.
   */
  async replacePasswordHash(
    userId: number,
    expected: string,
    hashedPassword: string,
    now: Date,
  ): Promise<boolean> {
    const changed = await this.nativeUpdate(
      { id: userId, hashedPassword: expected },
      { hashedPassword, updatedAt: now },
    );
    return changed === 1;
  }

  private assertFields(fields: UserFields, purpose: 'query' | 'update'): void {
    const keys = Object.keys(fields);
    // An empty filter would match any user, which is never what a caller means.
    if (keys.length === 0) throw new AuthError('INVALID_QUERY', `empty ${purpose}`);
    const unknown = keys.filter((key) => !this.fieldNames.has(key));
    if (unknown.length > 0) {
      throw new AuthError('INVALID_QUERY', `User has no field ${unknown.join(', ')}`);
    }
  }
}
