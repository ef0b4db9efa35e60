// The committed migrations on a real SQLite file: applied once, in step with the entities, with the spec's columns and pragmas.
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config';
import { initOrm, openDatabase, type OpenedDatabase, type Orm } from '../../src/database';

const INITIAL_MIGRATION = 'Migration20261127063929';
const ACCOUNT_SECURITY_MIGRATION = 'Migration20261127094330';
const RESET_TOKENS_MIGRATION = 'Migration20261203100000';
const MAILBOX_MIGRATION = 'Migration20261203110000';
const OUTBOX_MIGRATION = 'Migration20261204100000';
const EVERY_MIGRATION = [
  INITIAL_MIGRATION,
  ACCOUNT_SECURITY_MIGRATION,
  RESET_TOKENS_MIGRATION,
  MAILBOX_MIGRATION,
  OUTBOX_MIGRATION,
];

let directory: string;
let databaseFile: string;
const opened: Orm[] = [];

/** Opens (and migrates) the temporary file database, remembering the ORM so afterEach closes it. */
async function open(): Promise<OpenedDatabase> {
  const database = await openDatabase(
    loadConfig({ DATABASE_URL: databaseFile, NODE_ENV: 'test', LOG_LEVEL: 'silent' }),
  );
  opened.push(database.orm);
  return database;
}

/** Rows of a pragma or query on the ORM's connection. */
function query<T>(orm: Orm, sql: string): Promise<T[]> {
  return orm.em.getConnection().execute<T[]>(sql);
}

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'auth-migrations-'));
  databaseFile = join(directory, 'auth.sqlite');
});
afterEach(async () => {
  for (const orm of opened.splice(0)) await orm.close(true);
  rmSync(directory, { recursive: true, force: true });
});

describe('openDatabase on a SQLite file', () => {
  it('creates a fresh file and applies the initial migration', async () => {
    expect(existsSync(databaseFile)).toBe(false);
    const { appliedMigrations } = await open();
    expect(appliedMigrations).toEqual(EVERY_MIGRATION);
    expect(existsSync(databaseFile)).toBe(true);
  });

  it('applies nothing when the file is opened again', async () => {
    const first = await open();
    await first.orm.close(true);
    const second = await open();
    expect(second.appliedMigrations).toEqual([]);
  });

  it('leaves no difference between the entities and the migrated database', async () => {
    const { orm } = await open();
    expect(await orm.getSchemaGenerator().getUpdateSchemaSQL()).toBe('');
  });

  it.each([
    ['users', ['id', 'email', 'hashed_password', 'created_at', 'updated_at']],
    ['password_reset_tokens', ['id', 'user_id', 'token_hash', 'created_at', 'expires_at']],
    ['nonconforming_emails', ['user_id', 'email', 'problem', 'found_at']],
    [
      'sessions',
      [
        'id',
        'user_id',
        'public_id',
        'user_agent',
        'ip',
        'token_hash',
        'created_at',
        'expires_at',
        'last_seen_at',
      ],
    ],
    [
      'security_events',
      ['id', 'created_at', 'type', 'user_id', 'email', 'ip', 'user_agent', 'reason', 'count'],
    ],
    [
      'mail_outbox',
      [
        'id',
        'kind',
        'recipient',
        'subject',
        'body',
        'status',
        'attempts',
        'created_at',
        'next_attempt_at',
        'claimed_until',
        'expires_at',
        'last_error',
        'failed_at',
        'request_id',
      ],
    ],
  ])('gives the %s table the snake_case columns of the spec', async (table, columns) => {
    const { orm } = await open();
    const rows = await query<{ name: string }>(orm, `pragma table_info(${table})`);
    expect(rows.map((row) => row.name)).toEqual(columns);
  });

  it('makes no column of users nullable', async () => {
    const { orm } = await open();
    const rows = await query<{ name: string; notnull: number }>(orm, 'pragma table_info(users)');
    expect(rows.filter((row) => row.notnull === 0).map((row) => row.name)).toEqual([]);
  });

  it.each([
    ['users', 'email'],
    ['sessions', 'token_hash'],
    ['password_reset_tokens', 'token_hash'],
  ])('keeps %s.%s unique', async (table, column) => {
    const { orm } = await open();
    const indexes = await query<{ name: string; unique: number }>(orm, `pragma index_list(${table})`);
    const uniqueColumns: string[] = [];
    for (const index of indexes.filter((candidate) => candidate.unique === 1)) {
      const info = await query<{ name: string }>(orm, `pragma index_info(${index.name})`);
      uniqueColumns.push(...info.map((row) => row.name));
    }
    expect(uniqueColumns).toContain(column);
  });

  it('deletes sessions with their user through the foreign key', async () => {
    const { orm } = await open();
    const keys = await query<{ table: string; from: string; to: string; on_delete: string }>(
      orm,
      'pragma foreign_key_list(sessions)',
    );
    expect(keys.map(({ table, from, to, on_delete }) => ({ table, from, to, on_delete }))).toEqual([
      { table: 'users', from: 'user_id', to: 'id', on_delete: 'CASCADE' },
    ]);
  });

  it('turns on WAL journaling and foreign keys', async () => {
    const { orm } = await open();
    expect(await query<{ journal_mode: string }>(orm, 'pragma journal_mode')).toEqual([
      { journal_mode: 'wal' },
    ]);
    expect(await query<{ foreign_keys: number }>(orm, 'pragma foreign_keys')).toEqual([{ foreign_keys: 1 }]);
  });

  it('keeps the sessions of a database made before the account-security migration, each with its own public id', async () => {
    const config = loadConfig({ DATABASE_URL: databaseFile, NODE_ENV: 'test', LOG_LEVEL: 'silent' });
    const old = await initOrm(config);
    opened.push(old);
    await old.getMigrator().up({ to: INITIAL_MIGRATION });
    const now = Date.now();
    await query(
      old,
      `insert into users (id, email, hashed_password, created_at, updated_at) values (1, 'a@example.com', 'x', ${now}, ${now})`,
    );
    for (const id of [1, 2, 3]) {
      await query(
        old,
        `insert into sessions (id, user_id, token_hash, created_at, expires_at, last_seen_at) ` +
          `values (${id}, 1, '${String(id).repeat(64)}', ${now}, ${now + 1000}, ${now})`,
      );
    }

    expect((await old.getMigrator().up()).map((migration) => migration.name)).toEqual(
      EVERY_MIGRATION.slice(1),
    );
    const rows = await query<{ id: number; public_id: string; token_hash: string; user_agent: null }>(
      old,
      'select id, public_id, token_hash, user_agent from sessions order by id',
    );
    expect(rows.map((row) => [row.id, row.token_hash, row.user_agent])).toEqual([
      [1, '1'.repeat(64), null],
      [2, '2'.repeat(64), null],
      [3, '3'.repeat(64), null],
    ]);
    for (const row of rows) expect(row.public_id).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set(rows.map((row) => row.public_id)).size).toBe(3);
    // The rebuilt table still cascades with its user and keeps the token hash unique.
    await expect(
      query(
        old,
        `insert into sessions (user_id, public_id, token_hash, created_at, expires_at, last_seen_at) values (1, 'p', '${'1'.repeat(64)}', 0, 0, 0)`,
      ),
    ).rejects.toThrow(/UNIQUE/);
    await query(old, 'delete from users where id = 1');
    expect(await query(old, 'select id from sessions')).toEqual([]);
  });

  it('keeps a reset token outstanding at the upgrade, usable until its expiry, in the new table', async () => {
    const config = loadConfig({ DATABASE_URL: databaseFile, NODE_ENV: 'test', LOG_LEVEL: 'silent' });
    const old = await initOrm(config);
    opened.push(old);
    await old.getMigrator().up({ to: ACCOUNT_SECURITY_MIGRATION });
    const now = Date.now();
    await query(
      old,
      'insert into users (id, email, hashed_password, reset_token, reset_token_expires_at, created_at, updated_at) ' +
        `values (1, 'a@example.com', 'x', '${'a'.repeat(64)}', ${now + 60_000}, ${now - 1000}, ${now}), ` +
        `(2, 'b@example.com', 'x', null, null, ${now}, ${now})`,
    );
    expect((await old.getMigrator().up()).map((migration) => migration.name)).toEqual([
      RESET_TOKENS_MIGRATION,
      MAILBOX_MIGRATION,
      OUTBOX_MIGRATION,
    ]);
    expect(
      await query(old, 'select user_id, token_hash, created_at, expires_at from password_reset_tokens'),
    ).toEqual([{ user_id: 1, token_hash: 'a'.repeat(64), created_at: now, expires_at: now + 60_000 }]);
    await query(old, 'delete from users where id = 1');
    expect(await query(old, 'select id from password_reset_tokens')).toEqual([]);
  });

  it('brings stored emails to their canonical mailbox and lists those it cannot, changing nothing else', async () => {
    const config = loadConfig({ DATABASE_URL: databaseFile, NODE_ENV: 'test', LOG_LEVEL: 'silent' });
    const old = await initOrm(config);
    opened.push(old);
    await old.getMigrator().up({ to: RESET_TOKENS_MIGRATION });
    const stored = [
      'plain@example.com',
      // Decomposed accent (NFD): the canonical form is composed (NFC).
      'jose\u0301@example.com',
      // A Unicode domain: the canonical form is its IDNA A-label.
      'anna@bücher.example',
      // Needless quotes.
      '"quoted"@example.com',
      // Not one mailbox: a display name around the victim's address, a list, a comment.
      'x<victim@corp.example>',
      'victim@corp.example,x',
      'victim@corp.example(x)',
      // A lookalike of an account above: it would become plain@example.com, which is taken.
      '"plain"@example.com',
    ];
    const now = Date.now();
    for (const [index, email] of stored.entries()) {
      await old.em
        .getConnection()
        .execute(
          'insert into users (id, email, hashed_password, created_at, updated_at) values (?, ?, ?, ?, ?)',
          [index + 1, email, 'x', now, now],
        );
    }
    await old.getMigrator().up();
    expect(await query(old, 'select id, email from users order by id')).toEqual([
      { id: 1, email: 'plain@example.com' },
      { id: 2, email: 'jos\u00e9@example.com' },
      { id: 3, email: 'anna@xn--bcher-kva.example' },
      { id: 4, email: 'quoted@example.com' },
      { id: 5, email: 'x<victim@corp.example>' },
      { id: 6, email: 'victim@corp.example,x' },
      { id: 7, email: 'victim@corp.example(x)' },
      { id: 8, email: '"plain"@example.com' },
    ]);
    const listed = await query<{ user_id: number; email: string; problem: string }>(
      old,
      'select user_id, email, problem from nonconforming_emails order by user_id',
    );
    expect(listed.map((row) => [row.user_id, row.email])).toEqual([
      [5, 'x<victim@corp.example>'],
      [6, 'victim@corp.example,x'],
      [7, 'victim@corp.example(x)'],
      [8, '"plain"@example.com'],
    ]);
    expect(listed[3]?.problem).toBe('same mailbox as account 1');
    for (const row of listed.slice(0, 3)) expect(row.problem).toMatch(/^email /);
  });
});
