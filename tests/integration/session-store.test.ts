// SessionStore, the hot read, agrees with the ORM's writes on a SQLite file, and on the suite's own database.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SessionRepository } from '../../src/sessions';
import { SessionStore, type SessionRecord } from '../../src/sessions';
import { generateToken, hashToken } from '../../src/shared';
import { UserRepository } from '../../src/accounts';
import { Session } from '../../src/entities/session.entity';
import { User } from '../../src/entities/user.entity';
import { PASSWORD, uniqueEmail } from '../helpers/factories';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { testDatabaseUrl } from '../helpers/postgres';

const SECONDS_PER_DAY = 24 * 60 * 60;
/** The default idle lifetime of a session (the configuration's, which createTestApp leaves alone). */
const IDLE_TTL_SECONDS = 7 * SECONDS_PER_DAY;
/** More lookups at once than one batch of the SQLite reader holds, so several batches run and overlap. */
const CONCURRENT_LOOKUPS = 40;

/**
 * Where the store runs: a SQLite file, read through a connection of the store's own (production's setup), and
 * the suite's database, which is `:memory:` SQLite (the ORM's one connection) or, with TEST_DATABASE_URL,
 * PostgreSQL (a pooled connection and a named prepared statement).
 */
const backends: [string, () => Promise<{ app: TestApp; cleanup: () => void }>][] = [
  [
    'a SQLite file',
    async () => {
      const directory = mkdtempSync(join(tmpdir(), 'session-store-'));
      const app = await createTestApp({ DATABASE_URL: join(directory, 'auth.sqlite') });
      return { app, cleanup: () => rmSync(directory, { recursive: true, force: true }) };
    },
  ],
  [
    testDatabaseUrl() === undefined ? 'SQLite :memory:' : 'PostgreSQL',
    async () => ({ app: await createTestApp(), cleanup: () => undefined }),
  ],
];

describe.each(backends)('SessionStore on %s', (_name, open) => {
  let app: TestApp;
  let cleanup: () => void;
  let store: SessionStore;

  beforeAll(async () => {
    ({ app, cleanup } = await open());
    store = new SessionStore(app.orm.em.getConnection());
  });
  afterAll(async () => {
    await store.close();
    await app.close();
    cleanup();
  });

  /** A new account with one session started through the service; the session's token and the ORM's view of it. */
  async function signedIn(): Promise<{ token: string; session: Session; user: User }> {
    const { email } = await app.accounts.registerUser(uniqueEmail('store'), PASSWORD);
    const token = await app.accounts.createSession(email);
    if (token === null) throw new Error('no session');
    const em = app.orm.em.fork();
    const session = await em.findOneOrFail(Session, { tokenHash: hashToken(token) });
    const user = await em.findOneOrFail(User, { email });
    return { token, session, user };
  }

  /** What the store should answer for a session, built from the ORM's entities. */
  function recordOf(session: Session, user: User): SessionRecord {
    return {
      sessionId: session.id,
      sessionCreatedAt: session.createdAt,
      expiresAt: session.expiresAt,
      lastSeenAt: session.lastSeenAt,
      userId: user.id,
      email: user.email,
      userCreatedAt: user.createdAt,
    };
  }

  it('reads the session and its user exactly as the ORM wrote them, dates included', async () => {
    const { token, session, user } = await signedIn();
    expect(await store.findByTokenHash(hashToken(token))).toEqual(recordOf(session, user));
  });

  it('returns null for a token nobody was given', async () => {
    expect(await store.findByTokenHash(hashToken(generateToken()))).toBeNull();
  });

  it('sees a session the moment the ORM has committed it (no stale snapshot on its own connection)', async () => {
    await store.findByTokenHash(hashToken(generateToken()));
    const { token } = await signedIn();
    expect(await store.findByTokenHash(hashToken(token))).not.toBeNull();
  });

  it('returns null once the session is revoked through SessionRepository', async () => {
    const { token, session } = await signedIn();
    expect(await new SessionRepository(app.orm.em.fork()).deleteById(session.id)).toBe(1);
    expect(await store.findByTokenHash(hashToken(token))).toBeNull();
  });

  it('returns null once the user is deleted through the ORM (the cascade removes the session)', async () => {
    const { token, user } = await signedIn();
    expect(await app.orm.em.fork().nativeDelete(User, { id: user.id })).toBe(1);
    expect(await store.findByTokenHash(hashToken(token))).toBeNull();
  });

  it('reads the email UserRepository.updateUser just changed', async () => {
    const { token, user } = await signedIn();
    const email = uniqueEmail('renamed');
    await new UserRepository(app.orm.em.fork()).updateUser(user.id, { email });
    expect((await store.findByTokenHash(hashToken(token)))?.email).toBe(email);
  });

  it('reads the new expiry after the service slides it, and null once the service has expired the session', async () => {
    const { token, session } = await signedIn();
    // Past the touch interval but within the idle lifetime: the service writes a later expiry back.
    app.clock.advanceSeconds(2 * 60 * 60);
    const touched = await app.sessions.validateSession(token);
    expect(touched?.refreshed).toBe(true);
    const read = await store.findByTokenHash(hashToken(token));
    expect(read?.expiresAt).toEqual(touched?.expiresAt);
    expect(read?.lastSeenAt).toEqual(app.clock.now());
    expect(read?.expiresAt.getTime()).toBeGreaterThan(session.expiresAt.getTime());

    // Idle for longer than the idle lifetime: the service refuses the session and deletes it, and the read agrees.
    app.clock.advanceSeconds(IDLE_TTL_SECONDS);
    expect(await app.sessions.validateSession(token)).toBeNull();
    expect(await store.findByTokenHash(hashToken(token))).toBeNull();
  });

  it('answers many lookups at once, each with its own session (batched reads match rows to tokens)', async () => {
    const accounts = await Promise.all(Array.from({ length: 5 }, () => signedIn()));
    const lookups = Array.from({ length: CONCURRENT_LOOKUPS }, (_, i) =>
      // Every fourth lookup is a token nobody has; the others cycle over the accounts, so some repeat.
      i % 4 === 3 ? { token: generateToken(), expected: null } : accounts[i % accounts.length],
    );
    const answers = await Promise.all(lookups.map(({ token }) => store.findByTokenHash(hashToken(token))));
    answers.forEach((answer, i) => {
      const lookup = lookups[i];
      if ('session' in lookup) expect(answer).toEqual(recordOf(lookup.session, lookup.user));
      else expect(answer).toBeNull();
    });
  });

  it("is the service's own read: a session revoked through the ORM no longer signs in", async () => {
    const { token, session } = await signedIn();
    expect(await app.sessions.getUserFromSessionId(token)).not.toBeNull();
    await new SessionRepository(app.orm.em.fork()).deleteById(session.id);
    expect(await app.sessions.getUserFromSessionId(token)).toBeNull();
  });
});
