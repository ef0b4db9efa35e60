// The exercise's DB class: UserRepository's saves, lookups, updates and their errors on the real SQLite schema.
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { uniqueEmail } from '../helpers/factories';
import { AuthError } from '../../src/errors';
import { User } from '../../src/entities/user.entity';
import { UserRepository } from '../../src/accounts';
import { SessionRepository } from '../../src/sessions';
import { generateToken, hashToken } from '../../src/shared';

// The repository stores whatever hash it is given; it never hashes, so any string stands in for a bcrypt hash.
const HASH = '$2b$04$repositoryTestsNeverHashAnything0000000000000000000000';
const OTHER_HASH = '$2b$04$anotherStandInHashForTheUpdateTests000000000000000000000';
const SECONDS_PER_DAY = 24 * 60 * 60;

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});
afterAll(async () => {
  await app.close();
});

/** A repository on a fresh fork: a new unit of work with an empty identity map, so reads hit the database. */
function freshRepository(): UserRepository {
  return new UserRepository(app.orm.em.fork());
}

/** Saves a user with a unique email through its own unit of work. */
async function savedUser(hashedPassword = HASH): Promise<User> {
  return freshRepository().addUser(uniqueEmail(), hashedPassword);
}

/** How many sessions the database holds for this user, counted with plain SQL. */
async function sessionCount(userId: number): Promise<number> {
  const rows = await app.orm.em
    .getConnection()
    .execute<{ n: number }[]>('select cast(count(*) as integer) as n from sessions where user_id = ?', [
      userId,
    ]);
  return rows[0].n;
}

/** Starts a session for the user directly through the ORM; only the token's hash is stored. */
async function sessionFor(userId: number): Promise<void> {
  const now = app.clock.now();
  const expiresAt = new Date(now.getTime() + 7 * SECONDS_PER_DAY * 1000);
  await new SessionRepository(app.orm.em.fork()).createSession(
    userId,
    hashToken(generateToken()),
    now,
    expiresAt,
    { userAgent: null, ip: null },
  );
}

describe('addUser', () => {
  it('saves the user and returns it with an id assigned and the email as given', async () => {
    const email = uniqueEmail();
    const user = await freshRepository().addUser(email, HASH);
    expect(user).toBeInstanceOf(User);
    expect(Number.isInteger(user.id)).toBe(true);
    expect(user.id).toBeGreaterThan(0);
    expect(user.email).toBe(email);
    expect(user.hashedPassword).toBe(HASH);

    const reread = await freshRepository().findUserBy({ id: user.id });
    expect(reread.email).toBe(email);
    expect(reread.hashedPassword).toBe(HASH);
  });

  it('gives each new user its own id', async () => {
    const first = await savedUser();
    const second = await savedUser();
    expect(second.id).not.toBe(first.id);
  });

  it("fails with MikroORM's UniqueConstraintViolationException for an email that is already saved", async () => {
    const email = uniqueEmail();
    await freshRepository().addUser(email, HASH);
    await expect(freshRepository().addUser(email, OTHER_HASH)).rejects.toBeInstanceOf(
      UniqueConstraintViolationException,
    );
    const rows = await app.orm.em
      .getConnection()
      .execute<{ hashed_password: string }[]>('select hashed_password from users where email = ?', [email]);
    expect(rows).toEqual([{ hashed_password: HASH }]);
  });
});

describe('findUserBy', () => {
  it('returns the user matching every criterion', async () => {
    const user = await savedUser();
    const found = await freshRepository().findUserBy({ email: user.email, id: user.id });
    expect(found.id).toBe(user.id);
    expect(found.email).toBe(user.email);
  });

  it('returns the first match (lowest id) when several users match', async () => {
    const sharedHash = `${HASH}-${uniqueEmail('shared')}`;
    const first = await savedUser(sharedHash);
    await savedUser(sharedHash);
    const found = await freshRepository().findUserBy({ hashedPassword: sharedHash });
    expect(found.id).toBe(first.id);
  });

  it.each([
    ['an email nobody has', () => ({ email: uniqueEmail('ghost') })],
    ['an id nobody has', () => ({ id: 2_000_000_000 })],
  ])('throws USER_NOT_FOUND for %s', async (_case, criteria) => {
    const promise = freshRepository().findUserBy(criteria());
    await expect(promise).rejects.toBeInstanceOf(AuthError);
    await expect(promise).rejects.toMatchObject({ code: 'USER_NOT_FOUND' });
  });

  it('throws USER_NOT_FOUND when each criterion matches but not the same user', async () => {
    const one = await savedUser();
    const other = await savedUser();
    await expect(freshRepository().findUserBy({ id: one.id, email: other.email })).rejects.toMatchObject({
      code: 'USER_NOT_FOUND',
    });
  });

  it.each([
    ['a key that is not a User field', { password: 'x' }],
    ['a column name instead of the field name', { hashed_password: HASH }],
    ["the exercise's old session_id column", { session_id: 'x' }],
    ['a known field alongside an unknown one', { email: 'a@example.com', nope: 1 }],
    ['no criteria at all', {}],
  ])('throws INVALID_QUERY for %s', async (_case, criteria) => {
    const promise = freshRepository().findUserBy(criteria);
    await expect(promise).rejects.toBeInstanceOf(AuthError);
    await expect(promise).rejects.toMatchObject({ code: 'INVALID_QUERY' });
  });
});

describe('updateUser', () => {
  it('saves the changes to the database and returns the changed user', async () => {
    const user = await savedUser();
    const newEmail = uniqueEmail('renamed');
    const updated = await freshRepository().updateUser(user.id, {
      email: newEmail,
      hashedPassword: OTHER_HASH,
    });
    expect(updated.id).toBe(user.id);
    expect(updated.email).toBe(newEmail);

    const reread = await freshRepository().findUserBy({ id: user.id });
    expect(reread.email).toBe(newEmail);
    expect(reread.hashedPassword).toBe(OTHER_HASH);
    expect(reread.createdAt).toEqual(user.createdAt);
  });

  it('writes nothing when a change names an unknown field, not even the valid changes beside it', async () => {
    const user = await savedUser();
    const promise = freshRepository().updateUser(user.id, { hashedPassword: OTHER_HASH, nope: 'x' });
    await expect(promise).rejects.toBeInstanceOf(AuthError);
    await expect(promise).rejects.toMatchObject({ code: 'INVALID_QUERY' });

    const reread = await freshRepository().findUserBy({ id: user.id });
    expect(reread.hashedPassword).toBe(HASH);
  });

  it('throws INVALID_QUERY for empty changes', async () => {
    const user = await savedUser();
    await expect(freshRepository().updateUser(user.id, {})).rejects.toMatchObject({ code: 'INVALID_QUERY' });
  });

  it('throws INVALID_QUERY when asked to change the id, and the user keeps its id and email', async () => {
    const user = await savedUser();
    const newEmail = uniqueEmail('renamed');
    const promise = freshRepository().updateUser(user.id, { id: user.id + 1000, email: newEmail });
    await expect(promise).rejects.toBeInstanceOf(AuthError);
    await expect(promise).rejects.toMatchObject({ code: 'INVALID_QUERY' });

    const reread = await freshRepository().findUserBy({ id: user.id });
    expect(reread.email).toBe(user.email);
    await expect(freshRepository().findUserBy({ email: newEmail })).rejects.toMatchObject({
      code: 'USER_NOT_FOUND',
    });
  });

  it('throws USER_NOT_FOUND for an id no user has', async () => {
    const promise = freshRepository().updateUser(2_000_000_000, { email: uniqueEmail() });
    await expect(promise).rejects.toBeInstanceOf(AuthError);
    await expect(promise).rejects.toMatchObject({ code: 'USER_NOT_FOUND' });
  });
});

describe('deleting a user', () => {
  it("deletes the user's sessions with it (ON DELETE CASCADE) and leaves other users' sessions", async () => {
    const user = await savedUser();
    const bystander = await savedUser();
    await sessionFor(user.id);
    await sessionFor(user.id);
    await sessionFor(bystander.id);
    expect(await sessionCount(user.id)).toBe(2);

    const deleted = await app.orm.em.fork().nativeDelete(User, { id: user.id });
    expect(deleted).toBe(1);

    expect(await sessionCount(user.id)).toBe(0);
    expect(await sessionCount(bystander.id)).toBe(1);
    await expect(freshRepository().findUserBy({ id: user.id })).rejects.toMatchObject({
      code: 'USER_NOT_FOUND',
    });
  });
});
