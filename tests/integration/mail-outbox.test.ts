// The durable mail outbox through the real app and a real SMTP server: mail survives a mail server's outage and a restart.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { graphql } from '../helpers/graphql';
import { sendForm } from '../helpers/http';
import { NEW_PASSWORD, PASSWORD, registeredUser, signedInUser } from '../helpers/factories';
import { pollUntil, SmtpSink, type ReceivedMessage } from '../helpers/smtp';

const MAIL_FROM = 'Auth Service <auth@mail.example.test>';
/** A reset token: 256 random bits in base64url. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;
/** The Message-ID the outbox gives a mail: its row and creation time, at MAIL_FROM's domain. */
const MESSAGE_ID_PATTERN = /^<outbox\.\d+\.\d+@mail\.example\.test>$/;
const WARN_LEVEL = 40;
const ERROR_LEVEL = 50;
/** Long enough for the worker's 2 s poll and an SMTP exchange; a miss means the mail never came. */
const WAIT_MS = 8000;

/** The changePassword mutation with variables $currentPassword and $newPassword. */
const CHANGE_PASSWORD = `mutation Change($currentPassword: String!, $newPassword: String!) {
  changePassword(currentPassword: $currentPassword, newPassword: $newPassword)
}`;

/** One JSON log line, as far as these tests read it. */
interface LogLine {
  level: number;
  reqId?: string;
  msg: string;
  mail?: string;
  attempt?: number;
  error?: { name: string; code?: string; responseCode?: number };
}

/** An outbox row as an operator's query sees it. */
interface OutboxRow {
  kind: string;
  recipient: string;
  status: string;
  attempts: number;
  body: string | null;
  last_error: string | null;
  failed: boolean;
}

let directory: string;
beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'auth-outbox-'));
});
afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

/** Email delivery of reset tokens through the SMTP server on `port` (which may be down). */
function mailThrough(port: number): Record<string, string> {
  return {
    RESET_TOKEN_DELIVERY: 'email',
    SMTP_URL: `smtp://127.0.0.1:${port}`,
    MAIL_FROM,
    RESET_URL_TEMPLATE: 'https://app.example.test/reset?token={token}',
  };
}

/** A port where an SMTP sink listened and nothing listens now: a mail server that is down. */
async function portOfStoppedServer(): Promise<number> {
  const sink = await SmtpSink.start();
  await sink.stop();
  return sink.port;
}

function logLines(app: TestApp): LogLine[] {
  return app.logLines.map((line) => JSON.parse(line) as LogLine);
}

async function waitForLogLine(app: TestApp, matches: (line: LogLine) => boolean): Promise<LogLine> {
  await pollUntil(
    () => logLines(app).some(matches),
    WAIT_MS,
    () =>
      `a matching log line among: ${logLines(app)
        .map((line) => line.msg)
        .join(' | ')}`,
  );
  return logLines(app).find(matches) as LogLine;
}

function requestIdOf(response: LightMyRequestResponse): string {
  const id = response.headers['x-request-id'];
  if (typeof id !== 'string') throw new Error('no x-request-id header');
  return id;
}

/** Every row of the outbox, oldest first. */
async function outboxRows(app: TestApp): Promise<OutboxRow[]> {
  const rows = await app.orm.em
    .getConnection()
    .execute<(Omit<OutboxRow, 'failed'> & { failed_at: unknown })[]>(
      'select kind, recipient, status, attempts, body, last_error, failed_at from mail_outbox order by id',
    );
  return rows.map(({ failed_at: failedAt, ...row }) => ({ ...row, failed: failedAt !== null }));
}

/** Every row of every table of the app's database, as text: where a secret must not be. */
async function everything(app: TestApp): Promise<string> {
  const connection = app.orm.em.getConnection();
  const tables =
    app.config.database.dialect === 'sqlite'
      ? await connection.execute<{ name: string }[]>("select name from sqlite_master where type = 'table'")
      : await connection.execute<{ name: string }[]>(
          "select table_name as name from information_schema.tables where table_schema = 'public'",
        );
  const dumps = await Promise.all(
    tables.map(async ({ name }) => JSON.stringify(await connection.execute(`select * from "${name}"`))),
  );
  return dumps.join('\n');
}

/** The reset token in a reset mail's link. */
function tokenIn(message: ReceivedMessage): string {
  const link = /https:\/\/app\.example\.test\/reset\?token=\S+/.exec(message.text)?.[0];
  if (link === undefined) throw new Error(`no reset link in: ${message.text}`);
  return new URL(link).searchParams.get('token') ?? '';
}

/** Asks for a reset of `email` and checks the answer is the usual one. */
async function requestReset(app: TestApp, email: string): Promise<LightMyRequestResponse> {
  const response = await sendForm(app, 'POST', '/reset_password', { email });
  expect(response.statusCode).toBe(200);
  expect(response.body).toBe(JSON.stringify({ email, message: 'reset email sent' }));
  return response;
}

it('keeps a reset mail while the mail server is down, and sends it once the server is back', async () => {
  const port = await portOfStoppedServer();
  const app = await createTestApp({ ...mailThrough(port), MAIL_RETRY_MIN_SECONDS: '1' });
  let sink: SmtpSink | undefined;
  try {
    const email = await registeredUser(app);
    const request = await requestReset(app, email);
    const retry = await waitForLogLine(app, (line) => line.msg === 'email not sent yet: will retry');
    expect(retry).toMatchObject({
      level: WARN_LEVEL,
      reqId: requestIdOf(request),
      mail: 'reset',
      attempt: 1,
    });
    const [waiting] = await outboxRows(app);
    expect(waiting).toMatchObject({ kind: 'reset', recipient: email, status: 'pending', attempts: 1 });
    expect(waiting?.last_error).toBe('ESOCKET');

    sink = await SmtpSink.start({ port });
    // Past the 1 s back-off (at most 1.2 s with jitter): the worker's next poll finds the mail due.
    app.clock.advanceSeconds(2);
    const [message] = await sink.waitForMessagesTo(email, 1, WAIT_MS);
    expect(message?.parsed.messageId).toMatch(MESSAGE_ID_PATTERN);
    const token = tokenIn(message);
    expect(token).toMatch(TOKEN_PATTERN);
    const sent = await waitForLogLine(app, (line) => line.msg === 'email sent');
    expect(sent).toMatchObject({ reqId: requestIdOf(request), mail: 'reset', attempt: 2 });
    // Sent means gone: the only copy of the token the service ever had in clear leaves with the row.
    expect(await outboxRows(app)).toEqual([]);

    const reset = await sendForm(app, 'PUT', '/reset_password', {
      email,
      reset_token: token,
      new_password: NEW_PASSWORD,
    });
    expect(reset.statusCode).toBe(200);
    expect(reset.body).toBe(JSON.stringify({ email, message: 'Password updated' }));
  } finally {
    await app.close();
    await sink?.stop();
  }
});

it('sends mail an instance wrote before it stopped: the next instance on the same database file sends it', async () => {
  const port = await portOfStoppedServer();
  const env = { ...mailThrough(port), DATABASE_URL: join(directory, 'restart.sqlite') };
  const before = await createTestApp(env);
  const email = await registeredUser(before);
  const request = await requestReset(before, email);
  await waitForLogLine(before, (line) => line.msg === 'email not sent yet: will retry');
  await before.close();

  const sink = await SmtpSink.start({ port });
  const after = await createTestApp(env);
  try {
    // The first retry is due 5 s (at most 6 s) after the failure.
    after.clock.advanceSeconds(10);
    const [message] = await sink.waitForMessagesTo(email, 1, WAIT_MS);
    const sent = await waitForLogLine(after, (line) => line.msg === 'email sent');
    // The request id is kept with the mail, so the log follows the request across the restart.
    expect(sent).toMatchObject({ reqId: requestIdOf(request), mail: 'reset', attempt: 2 });
    const reset = await sendForm(after, 'PUT', '/reset_password', {
      email,
      reset_token: tokenIn(message),
      new_password: NEW_PASSWORD,
    });
    expect(reset.statusCode).toBe(200);
    // The reset's notice goes out from the new instance too, and then the outbox is empty.
    const [, notice] = await sink.waitForMessagesTo(email, 2, WAIT_MS);
    expect(notice?.subject).toBe('Your password was reset');
    await after.settled();
    expect(await outboxRows(after)).toEqual([]);
  } finally {
    await after.close();
    await sink.stop();
  }
});

describe('a mail the server refuses for good (554 after DATA)', () => {
  let sink: SmtpSink;
  let app: TestApp;
  beforeAll(async () => {
    sink = await SmtpSink.start({ rejectData: true });
    app = await createTestApp(mailThrough(sink.port));
  });
  afterAll(async () => {
    await app.close();
    await sink.stop();
  });

  it('is not retried, is logged at error level, and stays visible as failed without its text', async () => {
    const email = await registeredUser(app);
    const request = await requestReset(app, email);
    const failed = await waitForLogLine(app, (line) => line.msg === 'email could not be sent');
    expect(failed).toMatchObject({
      level: ERROR_LEVEL,
      reqId: requestIdOf(request),
      mail: 'reset',
      attempt: 1,
      error: { code: 'EMESSAGE', responseCode: 554 },
    });
    expect(await outboxRows(app)).toEqual([
      {
        kind: 'reset',
        recipient: email,
        status: 'failed',
        attempts: 1,
        body: null,
        last_error: 'EMESSAGE SMTP_554',
        failed: true,
      },
    ]);
    expect(await app.outbox?.counts()).toEqual({ pending: 0, failed: 1 });
    // The token the server saw is nowhere: not in any table, not in any log line.
    const token = tokenIn(sink.refused[0]);
    expect(token).toMatch(TOKEN_PATTERN);
    expect(await everything(app)).not.toContain(token);
    expect(app.logLines.filter((line) => line.includes(token))).toEqual([]);
    // A later poll does not try it again.
    app.clock.advanceSeconds(3600);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(sink.refused).toHaveLength(1);
  });

  it('is kept MAIL_FAILED_RETENTION_DAYS (30) for the operator, then removed by the clean-up', async () => {
    const email = await registeredUser(app);
    const request = await requestReset(app, email);
    await waitForLogLine(
      app,
      (line) => line.msg === 'email could not be sent' && line.reqId === requestIdOf(request),
    );
    // This suite's two failed mails: the one above and this one.
    expect((await outboxRows(app)).map((row) => row.status)).toEqual(['failed', 'failed']);
    app.clock.advanceSeconds(29 * 24 * 3600);
    expect((await app.cleanup.runOnce()).failedMails).toBe(0);
    app.clock.advanceSeconds(2 * 24 * 3600);
    expect((await app.cleanup.runOnce()).failedMails).toBe(2);
    expect(await outboxRows(app)).toEqual([]);
  });
});

describe('a reset mail expires with its token', () => {
  it('still pending when the token expires: given up as EXPIRED, never sent', async () => {
    const port = await portOfStoppedServer();
    const app = await createTestApp({
      ...mailThrough(port),
      RESET_TOKEN_TTL_SECONDS: '60',
      MAIL_RETRY_MIN_SECONDS: '1',
      MAIL_RETRY_MAX_SECONDS: '1',
    });
    let sink: SmtpSink | undefined;
    try {
      const email = await registeredUser(app);
      await requestReset(app, email);
      await waitForLogLine(app, (line) => line.msg === 'email not sent yet: will retry');
      sink = await SmtpSink.start({ port });
      app.clock.advanceSeconds(61);
      const expired = await waitForLogLine(app, (line) => line.msg === 'email could not be sent');
      expect(expired).toMatchObject({
        level: ERROR_LEVEL,
        mail: 'reset',
        attempt: 2,
        error: { code: 'EXPIRED' },
      });
      expect(await outboxRows(app)).toEqual([
        expect.objectContaining({ status: 'failed', body: null, last_error: 'EXPIRED' }),
      ]);
      expect(sink.messages).toEqual([]);
    } finally {
      await app.close();
      await sink?.stop();
    }
  });

  it('a retry that could only come after the token expired: given up at once', async () => {
    const port = await portOfStoppedServer();
    const app = await createTestApp({
      ...mailThrough(port),
      RESET_TOKEN_TTL_SECONDS: '60',
      MAIL_RETRY_MIN_SECONDS: '120',
    });
    try {
      const email = await registeredUser(app);
      await requestReset(app, email);
      const failed = await waitForLogLine(app, (line) => line.msg === 'email could not be sent');
      expect(failed).toMatchObject({ level: ERROR_LEVEL, attempt: 1, error: { code: 'ESOCKET' } });
      expect(logLines(app).filter((line) => line.msg === 'email not sent yet: will retry')).toEqual([]);
      expect(await outboxRows(app)).toEqual([
        expect.objectContaining({ status: 'failed', body: null, last_error: 'ESOCKET' }),
      ]);
    } finally {
      await app.close();
    }
  });
});

it('writes a notice in the transaction of the change: when the mail cannot be written, the change is not made', async () => {
  const sink = await SmtpSink.start();
  // SQLite on purpose: the trigger below is SQLite's syntax.
  const app = await createTestApp({
    DATABASE_URL: join(directory, 'atomic.sqlite'),
    RESET_TOKEN_DELIVERY: 'response',
    SMTP_URL: sink.url,
  });
  try {
    const { email, cookie } = await signedInUser(app);
    // The outbox refuses every row, as a full or broken table would: the notice is written last in the change's
    // transaction, so everything before it must be undone with it.
    await app.orm.em
      .getConnection()
      .execute(
        "create trigger refuse_mail before insert on mail_outbox begin select raise(abort, 'outbox refused'); end",
      );
    const change = await graphql(
      app,
      CHANGE_PASSWORD,
      { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
      cookie,
    );
    expect(change.data).toBeNull();
    expect(change.errors?.map((error) => error.extensions?.code)).toEqual(['INTERNAL_SERVER_ERROR']);
    expect(change.errors?.[0]?.message).toBe('internal server error');
    // The password is the old one, and nothing was queued.
    expect((await sendForm(app, 'POST', '/sessions', { email, password: PASSWORD })).statusCode).toBe(200);
    expect((await sendForm(app, 'POST', '/sessions', { email, password: NEW_PASSWORD })).statusCode).toBe(
      401,
    );
    expect(await outboxRows(app)).toEqual([]);

    await app.orm.em.getConnection().execute('drop trigger refuse_mail');
    const again = await graphql(
      app,
      CHANGE_PASSWORD,
      { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
      cookie,
    );
    expect(again.data).toEqual({ changePassword: true });
    await sink.waitForMessagesTo(email, 1, WAIT_MS);
  } finally {
    await app.close();
    await sink.stop();
  }
});
