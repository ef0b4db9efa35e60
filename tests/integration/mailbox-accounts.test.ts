// An account email is exactly one mailbox: hostile forms refused, lookalikes one account, mail to that one inbox only.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config';
import { initOrm } from '../../src/database';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { errorCodes, graphql, REGISTER } from '../helpers/graphql';
import { sendForm, sessionCookieOf } from '../helpers/http';
import { addressesOf, SmtpSink } from '../helpers/smtp';
import { NEW_PASSWORD, PASSWORD } from '../helpers/factories';

const NOT_PLAIN = 'email must be one plain address, without display names, comments, groups or lists';
const INVISIBLE = 'email must not contain invisible or formatting characters';
const TAKEN = '{"message":"email already registered"}';

/** A unique name for this run, so the addresses of one test never meet another's. */
let counter = 0;
function unique(prefix: string): string {
  counter += 1;
  return `${prefix}${process.pid}n${counter}`;
}

let sink: SmtpSink;
let app: TestApp;
beforeAll(async () => {
  sink = await SmtpSink.start();
  app = await createTestApp(sink.emailDelivery);
});
afterAll(async () => {
  await app.close();
  await sink.stop();
});

/** POST /users: status and body. */
async function register(email: string, password = PASSWORD): Promise<{ status: number; body: string }> {
  const response = await sendForm(app, 'POST', '/users', { email, password });
  return { status: response.statusCode, body: response.body };
}

describe('registration refuses what mail software reads as more than one bare mailbox', () => {
  it.each([
    ['a display name', 'x<victim@corp.example>'],
    ['a list', 'victim@corp.example,x'],
    ['a group', 'q:victim@corp.example;'],
    ['a quoted name glued to the address', '"x"victim@corp.example'],
    ['a comment', 'victim@corp.example(x)'],
    ['a list separator first', 'x;victim@corp.example'],
  ])('refuses %s on both transports with BAD_USER_INPUT', async (_case, email) => {
    expect(await register(email)).toEqual({ status: 400, body: JSON.stringify({ message: NOT_PLAIN }) });
    expect(errorCodes(await graphql(app, REGISTER, { email, password: PASSWORD }))).toEqual([
      'BAD_USER_INPUT',
    ]);
  });
});

describe('lookalikes of a registered address are the same account, or refused', () => {
  it.each([
    ['upper case', (local: string) => `${local.toUpperCase()}@bücher.example`],
    ['the IDNA A-label of the domain', (local: string) => `${local}@xn--bcher-kva.example`],
    ['the domain decomposed (NFD)', (local: string) => `${local}@bu\u0308cher.example`],
    ['needless quotes', (local: string) => `"${local}"@bücher.example`],
  ])('answers EMAIL_TAKEN for %s, and logs in with it', async (_case, spelling) => {
    const local = unique('anna');
    expect(await register(`${local}@bücher.example`)).toEqual({
      status: 200,
      body: JSON.stringify({ email: `${local}@xn--bcher-kva.example`, message: 'user created' }),
    });
    expect(await register(spelling(local), NEW_PASSWORD)).toEqual({ status: 400, body: TAKEN });
    const login = await sendForm(app, 'POST', '/sessions', { email: spelling(local), password: PASSWORD });
    expect(login.statusCode).toBe(200);
    expect(login.json()).toEqual({ email: `${local}@xn--bcher-kva.example`, message: 'logged in' });
  });

  it.each([
    ['a zero-width space', '\u200b'],
    ['a zero-width joiner', '\u200d'],
    ['a soft hyphen', '\u00ad'],
    ['a right-to-left override', '\u202e'],
  ])('refuses the address with %s in it, in the name or in the domain', async (_case, invisible) => {
    const local = unique('victim');
    expect((await register(`${local}@corp.example`)).status).toBe(200);
    for (const spelling of [`vic${invisible}${local}@corp.example`, `${local}@co${invisible}rp.example`]) {
      expect(await register(spelling)).toEqual({ status: 400, body: JSON.stringify({ message: INVISIBLE }) });
    }
  });

  it('stores a decomposed accent composed (NFC): both spellings are one account', async () => {
    const local = unique('jose');
    const decomposed = `${local}jose\u0301@example.com`;
    expect(await register(decomposed)).toEqual({
      status: 200,
      body: JSON.stringify({ email: `${local}jos\u00e9@example.com`, message: 'user created' }),
    });
    expect(await register(`${local}jos\u00e9@example.com`)).toEqual({ status: 400, body: TAKEN });
  });
});

describe('mail goes to the one mailbox, handed to the mail library as an address, never a string to parse', () => {
  it('sends the reset mail of a quoted address holding a comma to exactly that one mailbox', async () => {
    // Quoted because of the comma, which outside quotes separates a list: read as a string, this is two recipients.
    // (Not a space or two dots: the test's SMTP server refuses those even quoted, which real mail servers do not.)
    const email = `"${unique('john')},doe"@example.com`;
    expect((await register(email)).status).toBe(200);
    const answer = await sendForm(app, 'POST', '/reset_password', { email });
    expect(answer.json()).toEqual({ email, message: 'reset email sent' });
    await app.settled();
    const [message] = sink.messagesTo(email);
    expect(message?.envelopeTo).toEqual([email]);
    expect(addressesOf(message?.parsed.to)).toEqual([{ address: email, name: '' }]);
  });
});

/**
 * An app on a database as it was before the mailbox migration, holding accounts the old policy accepted (with
 * PASSWORD, or the password given), then migrated by the app's start.
 */
async function appFromBeforeTheRule(
  directory: string,
  accounts: readonly { email: string; password?: string }[],
): Promise<TestApp> {
  const databaseUrl = join(directory, 'auth.sqlite');
  const old = await initOrm(loadConfig({ DATABASE_URL: databaseUrl, NODE_ENV: 'test', LOG_LEVEL: 'silent' }));
  await old.getMigrator().up({ to: 'Migration20261203100000' });
  const seeded = await createTestApp({ DATABASE_URL: join(directory, 'seed.sqlite') });
  const now = Date.now();
  for (const { email, password } of accounts) {
    const hash = await seeded.passwords.hash(password ?? PASSWORD);
    await old.em
      .getConnection()
      .execute('insert into users (email, hashed_password, created_at, updated_at) values (?, ?, ?, ?)', [
        email,
        hash,
        now,
        now,
      ]);
  }
  await seeded.close();
  await old.close(true);
  return createTestApp({ DATABASE_URL: databaseUrl, ...sink.emailDelivery });
}

describe('an account kept from before the mailbox rule whose email is not one mailbox', () => {
  let directory: string;
  let legacyApp: TestApp;
  const legacyEmail = 'x<victim@corp.example>';
  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), 'auth-legacy-email-'));
    legacyApp = await appFromBeforeTheRule(directory, [{ email: legacyEmail }]);
  });
  afterAll(async () => {
    await legacyApp.close();
    rmSync(directory, { recursive: true, force: true });
  });

  it('is named at start as an account that gets no mail', () => {
    const warning = legacyApp.logLines
      .map(
        (line) => JSON.parse(line) as { level: number; msg: string; accounts?: number; userIds?: number[] },
      )
      .find((entry) => entry.msg.startsWith('accounts whose email is not a single mailbox'));
    expect(warning).toMatchObject({ level: 40, accounts: 1, userIds: [1] });
  });

  it('still signs in with the email as registered, and gets no mail: not even the password-change notice', async () => {
    const login = await sendForm(legacyApp, 'POST', '/sessions', { email: legacyEmail, password: PASSWORD });
    expect(login.statusCode).toBe(200);
    const before = sink.messages.length;
    const change = await graphql(
      legacyApp,
      'mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }',
      { c: PASSWORD, n: NEW_PASSWORD },
      sessionCookieOf(login),
    );
    expect(change.errors).toBeUndefined();
    await legacyApp.settled();
    expect(sink.messages.length).toBe(before);
    expect(sink.messagesTo('victim@corp.example')).toEqual([]);
    expect(legacyApp.logLines.some((line) => line.includes('is not a single mailbox: email not sent'))).toBe(
      true,
    );
  });

  it('cannot be sent a reset mail: the request is refused like any malformed email', async () => {
    const answer = await sendForm(legacyApp, 'POST', '/reset_password', { email: legacyEmail });
    expect(answer.statusCode).toBe(400);
    expect(answer.json()).toEqual({ message: NOT_PLAIN });
    await legacyApp.settled();
    expect(sink.messagesTo('victim@corp.example')).toEqual([]);
  });
});

describe('an account kept from before the mailbox rule as a second spelling of another account’s mailbox', () => {
  let directory: string;
  let legacyApp: TestApp;
  // The old policy took both; the quotes are needless, so both are the one mailbox a@corp.example.
  const canonical = 'a@corp.example';
  const lookalike = '"a"@corp.example';
  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), 'auth-legacy-lookalike-'));
    legacyApp = await appFromBeforeTheRule(directory, [
      { email: canonical },
      { email: lookalike, password: NEW_PASSWORD },
    ]);
  });
  afterAll(async () => {
    await legacyApp.close();
    rmSync(directory, { recursive: true, force: true });
  });

  it('signs each owner in with the email as they registered it, to their own account', async () => {
    const second = await sendForm(legacyApp, 'POST', '/sessions', {
      email: lookalike,
      password: NEW_PASSWORD,
    });
    expect([second.statusCode, second.body]).toEqual([
      200,
      JSON.stringify({ email: lookalike, message: 'logged in' }),
    ]);
    const first = await sendForm(legacyApp, 'POST', '/sessions', { email: canonical, password: PASSWORD });
    expect([first.statusCode, first.body]).toEqual([
      200,
      JSON.stringify({ email: canonical, message: 'logged in' }),
    ]);
    // Neither password opens the other account.
    const crossed = await sendForm(legacyApp, 'POST', '/sessions', { email: lookalike, password: PASSWORD });
    expect(crossed.statusCode).toBe(401);
  });

  it('sends a reset for the mailbox to the account that holds it in its canonical form', async () => {
    const answer = await sendForm(legacyApp, 'POST', '/reset_password', { email: lookalike });
    expect(answer.json()).toEqual({ email: canonical, message: 'reset email sent' });
    await legacyApp.settled();
    expect(sink.messagesTo(canonical)).toHaveLength(1);
  });
});
