// With email delivery, a reset request is answered before any work that depends on the email, so timing reveals nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Database } from 'sqlite3';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { errorCodes, graphql, REQUEST_RESET } from '../helpers/graphql';
import { sendForm } from '../helpers/http';
import { SmtpSink } from '../helpers/smtp';
import { registeredUser, uniqueEmail } from '../helpers/factories';

let directory: string;
let sink: SmtpSink;
let app: TestApp;

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'auth-reset-first-'));
  sink = await SmtpSink.start();
  app = await createTestApp({ DATABASE_URL: join(directory, 'auth.sqlite'), ...sink.emailDelivery });
});
afterAll(async () => {
  await app.close();
  await sink.stop();
  rmSync(directory, { recursive: true, force: true });
});

/** Runs one statement on a connection of its own to the app's database file. */
function run(database: Database, sql: string): Promise<void> {
  return new Promise((resolve, reject) => database.exec(sql, (error) => (error ? reject(error) : resolve())));
}

/**
 * Holds the database's write lock from a second connection while `action` runs: any write the app makes meanwhile
 * waits for it (and would fail after the 5 s busy timeout), so an answer that arrives during `action` was decided
 * without writing anything.
 */
async function whileWritesAreBlocked<T>(action: () => Promise<T>, file = 'auth.sqlite'): Promise<T> {
  const blocker = new Database(join(directory, file));
  try {
    await run(blocker, 'begin immediate');
    try {
      return await action();
    } finally {
      await run(blocker, 'commit');
    }
  } finally {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
  }
}

it('answers registered and unknown emails alike while no write can happen, and does the work afterwards', async () => {
  const registered = await registeredUser(app);
  const unknown = uniqueEmail('nobody');
  const [forRegistered, forUnknown, overGraphql] = await whileWritesAreBlocked(async () => [
    await sendForm(app, 'POST', '/reset_password', { email: registered }),
    await sendForm(app, 'POST', '/reset_password', { email: unknown }),
    (await graphql(app, REQUEST_RESET, { email: registered })).response,
  ]);
  expect(forRegistered?.statusCode).toBe(200);
  expect(forRegistered?.body).toBe(JSON.stringify({ email: registered, message: 'reset email sent' }));
  expect(forUnknown?.statusCode).toBe(200);
  expect(forUnknown?.body).toBe(JSON.stringify({ email: unknown, message: 'reset email sent' }));
  expect(overGraphql?.json()).toEqual({
    data: { requestPasswordReset: { email: registered, resetToken: null } },
  });

  // Once writes can happen again, the token is issued, recorded and mailed, for the registered email only.
  await app.settled();
  const messages = await sink.waitForMessages(2);
  expect(messages.map((message) => message.envelopeTo)).toEqual([[registered], [registered]]);
  expect(sink.messagesTo(unknown)).toEqual([]);
  const events = await app.orm.em
    .getConnection()
    .execute<{ email: string; reason: string | null }[]>(
      "select email, reason from security_events where type = 'PASSWORD_RESET_REQUESTED' order by id",
    );
  // In whichever order the background work finished.
  expect(events).toHaveLength(3);
  expect(events).toEqual(
    expect.arrayContaining([
      { email: registered, reason: null },
      { email: unknown, reason: 'UNKNOWN_EMAIL' },
    ]),
  );
  expect(events.filter((event) => event.email === registered)).toHaveLength(2);
});

it('still refuses a malformed email at once, the same for everyone', async () => {
  const answer = await sendForm(app, 'POST', '/reset_password', { email: 'x<victim@corp.example>' });
  expect(answer.statusCode).toBe(400);
  expect(answer.json()).toEqual({
    message: 'email must be one plain address, without display names, comments, groups or lists',
  });
  expect(errorCodes(await graphql(app, REQUEST_RESET, { email: 'not an email' }))).toEqual([
    'BAD_USER_INPUT',
  ]);
});

it('while a stalled database holds the background work full, answers every email alike SERVICE_BUSY', async () => {
  const busyApp = await createTestApp({
    DATABASE_URL: join(directory, 'busy.sqlite'),
    ...sink.emailDelivery,
    BACKGROUND_MAX_PENDING: '2',
  });
  try {
    const [first, second, third] = [
      await registeredUser(busyApp),
      await registeredUser(busyApp),
      await registeredUser(busyApp),
    ];
    const busy = { statusCode: 503, retryAfter: '5', body: '{"message":"service busy, try again shortly"}' };
    await whileWritesAreBlocked(async () => {
      // Two registered emails: each task waits for the write lock, holding one of the two places.
      for (const email of [first, second]) {
        expect((await sendForm(busyApp, 'POST', '/reset_password', { email })).statusCode).toBe(200);
      }
      for (const email of [third, uniqueEmail('nobody')]) {
        const response = await sendForm(busyApp, 'POST', '/reset_password', { email });
        expect({
          statusCode: response.statusCode,
          retryAfter: response.headers['retry-after'],
          body: response.body,
        }).toEqual(busy);
        const answer = await graphql(busyApp, REQUEST_RESET, { email });
        expect(answer.errors?.[0]?.extensions).toEqual({ code: 'SERVICE_BUSY', retryAfterSeconds: 5 });
      }
    }, 'busy.sqlite');
    // Nothing refused was started: once the two drain, only their two mails were sent, and the queue serves again.
    await busyApp.settled();
    await sink.waitForMessagesTo(second, 1);
    expect(sink.messagesTo(first)).toHaveLength(1);
    expect(sink.messagesTo(third)).toEqual([]);
    expect((await sendForm(busyApp, 'POST', '/reset_password', { email: third })).statusCode).toBe(200);
    await busyApp.settled();
    expect(sink.messagesTo(third)).toHaveLength(1);
  } finally {
    await busyApp.close();
  }
});
