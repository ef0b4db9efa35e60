// Email delivery through the real app and a real SMTP server: reset links, password notices and mail failures.
import { createServer, type AddressInfo } from 'node:net';
import type { LightMyRequestResponse } from 'fastify';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { errorCodes, graphql, REQUEST_RESET, RESET } from '../helpers/graphql';
import { sendForm } from '../helpers/http';
import { NEW_PASSWORD, PASSWORD, signedInUser, uniqueEmail } from '../helpers/factories';
import { addressesOf, pollUntil, SmtpSink, type ReceivedMessage } from '../helpers/smtp';

const MAIL_FROM_ADDRESS = 'auth@mail.example.test';
const MAIL_FROM = `Auth Service <${MAIL_FROM_ADDRESS}>`;
/** A template unlike the default, so the test sees it is the one used, with the email in a query parameter. */
const RESET_URL_TEMPLATE = 'https://app.example.test/reset/{token}?for={email}';
/** Every reset link the app builds from RESET_URL_TEMPLATE starts like this. */
const RESET_LINK_PATTERN = /https:\/\/app\.example\.test\/reset\/\S+/;
/** A reset token: 256 random bits in base64url. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

const ONE_AT_SIGN = 'email must have exactly one @ with a name before it and a domain after it';
/** pino's number for the info level. */
const INFO_LEVEL = 30;
/** pino's number for the warn level. */
const WARN_LEVEL = 40;
/** pino's number for the error level. */
const ERROR_LEVEL = 50;
/** How long to wait for a log line the background mail sending writes. */
const LOG_TIMEOUT_MS = 5000;

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
  retryInSeconds?: number;
  error?: { name: string; code?: string };
}

/** Registers `email` through the REST shim (for emails uniqueEmail's default prefix cannot give). */
async function register(app: TestApp, email: string): Promise<void> {
  const response = await sendForm(app, 'POST', '/users', { email, password: PASSWORD });
  if (response.statusCode !== 200) throw new Error(`registration failed: ${response.body}`);
}

/** Every log line the app has written, parsed. */
function logLines(app: TestApp): LogLine[] {
  return app.logLines.map((line) => JSON.parse(line) as LogLine);
}

/** Waits for the first log line that `matches` and returns it. */
async function waitForLogLine(app: TestApp, matches: (line: LogLine) => boolean): Promise<LogLine> {
  await pollUntil(
    () => logLines(app).some(matches),
    LOG_TIMEOUT_MS,
    () => 'a matching log line',
  );
  return logLines(app).find(matches) as LogLine;
}

/** The request id the app gave a response (X-Request-Id; it is also the reqId of the request's log lines). */
function requestIdOf(response: LightMyRequestResponse): string {
  const id = response.headers['x-request-id'];
  if (typeof id !== 'string') throw new Error('no x-request-id header');
  return id;
}

/** The reset link in a reset email, and the token inside it. */
function resetLinkOf(message: ReceivedMessage): { link: string; token: string } {
  const link = RESET_LINK_PATTERN.exec(message.text)?.[0];
  if (link === undefined) throw new Error(`no reset link in: ${message.text}`);
  const token = decodeURIComponent(new URL(link).pathname.split('/').pop() ?? '');
  return { link, token };
}

/** An email with characters a URL must encode ("+" and "@"), so the link shows that it was encoded. */
function emailNeedingEncoding(): string {
  return uniqueEmail('reset+tag');
}

/** The email as it must appear in the reset link: "+" and "@" percent-encoded. */
function encoded(email: string): string {
  return email.replaceAll('+', '%2B').replaceAll('@', '%40');
}

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  return port;
}

/** The environment of an app that delivers reset tokens by email through `smtpUrl`, from MAIL_FROM. */
function emailDelivery(smtpUrl: string): Record<string, string> {
  return { RESET_TOKEN_DELIVERY: 'email', SMTP_URL: smtpUrl, MAIL_FROM, RESET_URL_TEMPLATE };
}

/** The headers of a response that do not vary from one request to the next (no date, id or length). */
function stableHeaders(response: LightMyRequestResponse): Record<string, unknown> {
  const varying = new Set(['date', 'x-request-id', 'content-length']);
  return Object.fromEntries(Object.entries(response.headers).filter(([name]) => !varying.has(name)));
}

describe('RESET_TOKEN_DELIVERY=email', () => {
  let sink: SmtpSink;
  let app: TestApp;
  beforeAll(async () => {
    sink = await SmtpSink.start();
    app = await createTestApp(emailDelivery(sink.url));
  });
  afterAll(async () => {
    await app.close();
    await sink.stop();
  });

  describe('POST /reset_password', () => {
    it('answers 200 {email, "reset email sent"} and mails the account a reset link from MAIL_FROM', async () => {
      const email = emailNeedingEncoding();
      await register(app, email);
      const response = await sendForm(app, 'POST', '/reset_password', { email: ` ${email.toUpperCase()} ` });
      expect(response.statusCode).toBe(200);
      expect(response.body).toBe(JSON.stringify({ email, message: 'reset email sent' }));

      const [message] = await sink.waitForMessagesTo(email, 1);
      const { link, token } = resetLinkOf(message);
      expect(token).toMatch(TOKEN_PATTERN);
      expect(link).toBe(`https://app.example.test/reset/${token}?for=${encoded(email)}`);
      expect(message.envelopeFrom).toBe(MAIL_FROM_ADDRESS);
      expect(message.envelopeTo).toEqual([email]);
      expect(addressesOf(message.parsed.from)).toEqual([
        { address: MAIL_FROM_ADDRESS, name: 'Auth Service' },
      ]);
      expect(addressesOf(message.parsed.to)).toEqual([{ address: email, name: '' }]);
      expect(message.subject).toBe('Reset your password');
      expect(message.text).toContain(`Or use this reset token: ${token}\n`);
      expect(message.text).toContain("If this wasn't you");
    });

    it('the emailed token sets a new password with PUT /reset_password, and a "password was reset" notice follows', async () => {
      const email = emailNeedingEncoding();
      await register(app, email);
      await sendForm(app, 'POST', '/reset_password', { email });
      const { token } = resetLinkOf((await sink.waitForMessagesTo(email, 1))[0]);

      const reset = await sendForm(app, 'PUT', '/reset_password', {
        email,
        reset_token: token,
        new_password: NEW_PASSWORD,
      });
      expect(reset.statusCode).toBe(200);
      expect(reset.body).toBe(JSON.stringify({ email, message: 'Password updated' }));
      const login = await sendForm(app, 'POST', '/sessions', { email, password: NEW_PASSWORD });
      expect(login.statusCode).toBe(200);

      const messages = await sink.waitForMessagesTo(email, 2);
      expect(messages.map((message) => message.subject)).toEqual([
        'Reset your password',
        'Your password was reset',
      ]);
      expect(addressesOf(messages[1].parsed.to)).toEqual([{ address: email, name: '' }]);
      expect(messages[1].text).toContain(`The password of ${email} was just reset`);
      expect(messages[1].text).toContain("If this wasn't you");
      expect(messages[1].text).not.toContain(token);
    });

    it('answers an unknown email byte for byte like a registered one, apart from the email, and mails it nothing', async () => {
      const known = uniqueEmail('known');
      await register(app, known);
      const unknown = uniqueEmail('unknown');
      const forUnknown = await sendForm(app, 'POST', '/reset_password', { email: unknown });
      const forKnown = await sendForm(app, 'POST', '/reset_password', { email: known });

      expect(forUnknown.statusCode).toBe(200);
      expect(forUnknown.body).toBe(JSON.stringify({ email: unknown, message: 'reset email sent' }));
      expect(forKnown.statusCode).toBe(200);
      expect(forKnown.body.replace(known, '<email>')).toBe(forUnknown.body.replace(unknown, '<email>'));
      expect(stableHeaders(forKnown)).toEqual(stableHeaders(forUnknown));

      // The known email's message was sent after the unknown one's would have been: once it is in, none is coming.
      await sink.waitForMessagesTo(known, 1);
      expect(sink.messagesTo(unknown)).toEqual([]);
      expect(sink.messages.flatMap((message) => message.envelopeTo)).not.toContain(unknown);
    });

    it('answers an unknown email with its normalised form (trimmed, lower-case)', async () => {
      const unknown = uniqueEmail('unknown');
      const response = await sendForm(app, 'POST', '/reset_password', {
        email: `  ${unknown.toUpperCase()} `,
      });
      expect(response.statusCode).toBe(200);
      expect(response.body).toBe(JSON.stringify({ email: unknown, message: 'reset email sent' }));
    });

    it('still answers 400 for a malformed email', async () => {
      const response = await sendForm(app, 'POST', '/reset_password', { email: 'nobody.example.com' });
      expect(response.statusCode).toBe(400);
      expect(response.body).toBe(JSON.stringify({ message: ONE_AT_SIGN }));
    });
  });

  describe('GraphQL', () => {
    it('requestPasswordReset answers {email, resetToken: null} for registered and unknown emails alike', async () => {
      const known = uniqueEmail('known');
      await register(app, known);
      const unknown = uniqueEmail('unknown');
      const forUnknown = await graphql(app, REQUEST_RESET, { email: unknown });
      const forKnown = await graphql(app, REQUEST_RESET, { email: known.toUpperCase() });

      expect(forUnknown.errors).toBeUndefined();
      expect(forUnknown.data).toEqual({ requestPasswordReset: { email: unknown, resetToken: null } });
      expect(forKnown.errors).toBeUndefined();
      expect(forKnown.data).toEqual({ requestPasswordReset: { email: known, resetToken: null } });
      expect(forKnown.response.body.replace(known, '<email>')).toBe(
        forUnknown.response.body.replace(unknown, '<email>'),
      );

      const [message] = await sink.waitForMessagesTo(known, 1);
      expect(message.subject).toBe('Reset your password');
      expect(sink.messagesTo(unknown)).toEqual([]);
    });

    it('the emailed token works with resetPassword, and a "password was reset" notice follows', async () => {
      const email = emailNeedingEncoding();
      await register(app, email);
      await graphql(app, REQUEST_RESET, { email });
      const [request] = await sink.waitForMessagesTo(email, 1);
      const { link, token } = resetLinkOf(request);
      expect(link).toBe(`https://app.example.test/reset/${token}?for=${encoded(email)}`);

      const reset = await graphql(app, RESET, { email, resetToken: token, newPassword: NEW_PASSWORD });
      expect(reset.errors).toBeUndefined();
      expect(reset.data).toEqual({ resetPassword: true });

      const messages = await sink.waitForMessagesTo(email, 2);
      expect(messages[1].subject).toBe('Your password was reset');
      expect(messages[1].text).toContain("If this wasn't you");
    });

    it('requestPasswordReset still refuses a malformed email with BAD_USER_INPUT', async () => {
      const answer = await graphql(app, REQUEST_RESET, { email: 'nobody.example.com' });
      expect(errorCodes(answer)).toEqual(['BAD_USER_INPUT']);
      expect(answer.errors?.[0].message).toBe(ONE_AT_SIGN);
      expect(answer.data).toBeNull();
    });

    it('changePassword sends a "password was changed" notice to the signed-in account', async () => {
      const { email, cookie } = await signedInUser(app);
      const answer = await graphql(
        app,
        CHANGE_PASSWORD,
        { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
        cookie,
      );
      expect(answer.errors).toBeUndefined();
      expect(answer.data).toEqual({ changePassword: true });

      const [notice] = await sink.waitForMessagesTo(email, 1);
      expect(notice.subject).toBe('Your password was changed');
      expect(notice.envelopeFrom).toBe(MAIL_FROM_ADDRESS);
      expect(addressesOf(notice.parsed.to)).toEqual([{ address: email, name: '' }]);
      expect(notice.text).toContain("If this wasn't you");
    });
  });

  it('logs "email sent" under the request id, without the token', async () => {
    const email = uniqueEmail();
    await register(app, email);
    const response = await sendForm(app, 'POST', '/reset_password', { email });
    const { token } = resetLinkOf((await sink.waitForMessagesTo(email, 1))[0]);
    const line = await waitForLogLine(
      app,
      (l) => l.reqId === requestIdOf(response) && l.msg === 'email sent',
    );
    expect(line).toMatchObject({ level: INFO_LEVEL, mail: 'reset' });
    expect(app.logLines.filter((raw) => raw.includes(token))).toEqual([]);
  });
});

describe('RESET_TOKEN_DELIVERY=response with SMTP_URL set', () => {
  let sink: SmtpSink;
  let app: TestApp;
  beforeAll(async () => {
    sink = await SmtpSink.start();
    app = await createTestApp({ RESET_TOKEN_DELIVERY: 'response', SMTP_URL: sink.url, MAIL_FROM });
  });
  afterAll(async () => {
    await app.close();
    await sink.stop();
  });

  it('returns the token in the answer, emails no reset link, and sends the reset notice', async () => {
    const email = uniqueEmail();
    await register(app, email);
    const request = await sendForm(app, 'POST', '/reset_password', { email });
    expect(request.statusCode).toBe(200);
    const { reset_token: token } = request.json<{ email: string; reset_token: string }>();
    expect(request.json()).toEqual({ email, reset_token: token });
    expect(token).toMatch(TOKEN_PATTERN);

    const reset = await sendForm(app, 'PUT', '/reset_password', {
      email,
      reset_token: token,
      new_password: NEW_PASSWORD,
    });
    expect(reset.statusCode).toBe(200);

    const [notice] = await sink.waitForMessagesTo(email, 1);
    expect(notice.subject).toBe('Your password was reset');
    expect(notice.envelopeFrom).toBe(MAIL_FROM_ADDRESS);
    expect(notice.text).toContain("If this wasn't you");
    expect(notice.text).not.toContain(token);
    // The reset request came first: had it mailed a link, that message would be here before the notice.
    expect(sink.messagesTo(email).map((message) => message.subject)).toEqual(['Your password was reset']);
  });

  it('sends the reset notice after a GraphQL resetPassword', async () => {
    const email = uniqueEmail();
    await register(app, email);
    const request = await graphql<{ requestPasswordReset: { email: string; resetToken: string } }>(
      app,
      REQUEST_RESET,
      { email },
    );
    const token = request.data?.requestPasswordReset.resetToken ?? '';
    expect(token).toMatch(TOKEN_PATTERN);
    const reset = await graphql(app, RESET, { email, resetToken: token, newPassword: NEW_PASSWORD });
    expect(reset.data).toEqual({ resetPassword: true });

    const [notice] = await sink.waitForMessagesTo(email, 1);
    expect(notice.subject).toBe('Your password was reset');
    expect(sink.messagesTo(email)).toHaveLength(1);
  });

  it('sends the change notice, saying when, from where and from what device', async () => {
    const { email, cookie } = await signedInUser(app);
    const answer = await graphql(
      app,
      CHANGE_PASSWORD,
      { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
      cookie,
    );
    expect(answer.data).toEqual({ changePassword: true });

    const [notice] = await sink.waitForMessagesTo(email, 1);
    expect(notice.subject).toBe('Your password was changed');
    expect(notice.text).toBe(
      `The password of ${email} was just changed, and every other session was signed out.\n\n` +
        `When: ${app.clock.now().toISOString()}\n` +
        'From: 127.0.0.1\n' +
        'Device: lightMyRequest\n' +
        "\nIf this wasn't you, reset your password now and review your sessions.\n",
    );
  });

  it('sends no notice for a failed change (wrong current password)', async () => {
    const { email, cookie } = await signedInUser(app);
    const wrong = await graphql(
      app,
      CHANGE_PASSWORD,
      { currentPassword: 'not the password at all', newPassword: NEW_PASSWORD },
      cookie,
    );
    expect(errorCodes(wrong)).toEqual(['INVALID_CREDENTIALS']);
    const right = await graphql(
      app,
      CHANGE_PASSWORD,
      { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
      cookie,
    );
    expect(right.data).toEqual({ changePassword: true });

    await sink.waitForMessagesTo(email, 1);
    expect(sink.messagesTo(email)).toHaveLength(1);
  });
});

it('uses the default RESET_URL_TEMPLATE when none is set', async () => {
  const sink = await SmtpSink.start();
  const app = await createTestApp({ RESET_TOKEN_DELIVERY: 'email', SMTP_URL: sink.url });
  try {
    const email = emailNeedingEncoding();
    await register(app, email);
    await sendForm(app, 'POST', '/reset_password', { email });
    const [message] = await sink.waitForMessagesTo(email, 1);
    const token = /Or use this reset token: (\S+)\n/.exec(message.text)?.[1] ?? '';
    expect(token).toMatch(TOKEN_PATTERN);
    expect(message.text).toContain(
      `\nhttp://localhost:5000/reset-password?email=${encoded(email)}&token=${token}\n`,
    );
    expect(addressesOf(message.parsed.from)).toEqual([
      { address: 'no-reply@localhost', name: 'user-auth-service' },
    ]);
  } finally {
    await app.close();
    await sink.stop();
  }
});

describe('without SMTP_URL', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp({ RESET_TOKEN_DELIVERY: 'response' });
  });
  afterAll(async () => {
    await app.close();
  });

  it('completes resets and changes without trying to send a notice', async () => {
    const { email, cookie } = await signedInUser(app);
    const before = app.logLines.length;
    const change = await graphql(
      app,
      CHANGE_PASSWORD,
      { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
      cookie,
    );
    expect(change.data).toEqual({ changePassword: true });
    const request = await sendForm(app, 'POST', '/reset_password', { email });
    const token = request.json<{ reset_token: string }>().reset_token;
    const reset = await sendForm(app, 'PUT', '/reset_password', {
      email,
      reset_token: token,
      new_password: PASSWORD,
    });
    expect(reset.statusCode).toBe(200);

    // Without a mail server the notice is skipped outright: nothing is sent, so nothing is logged about mail.
    const lines = logLines(app).slice(before);
    expect(lines.map((line) => [line.level, line.msg])).toEqual([
      [INFO_LEVEL, 'request completed'],
      [INFO_LEVEL, 'request completed'],
      [INFO_LEVEL, 'request completed'],
    ]);
  });
});

describe('mail failures never change the answer', () => {
  it('SMTP_URL on a closed port: the reset request answers as usual; the mail waits in the outbox for a retry', async () => {
    const app = await createTestApp(emailDelivery(`smtp://127.0.0.1:${await closedPort()}`));
    try {
      const email = uniqueEmail();
      await register(app, email);
      const response = await sendForm(app, 'POST', '/reset_password', { email });
      expect(response.statusCode).toBe(200);
      expect(response.body).toBe(JSON.stringify({ email, message: 'reset email sent' }));

      const line = await waitForLogLine(app, (l) => l.msg === 'email not sent yet: will retry');
      expect(line).toMatchObject({
        level: WARN_LEVEL,
        reqId: requestIdOf(response),
        mail: 'reset',
        attempt: 1,
        error: { name: 'Error', code: 'ESOCKET' },
      });
      // MAIL_RETRY_MIN_SECONDS (5) with up to 20 % jitter either way.
      expect(line.retryInSeconds).toBeGreaterThanOrEqual(4);
      expect(line.retryInSeconds).toBeLessThanOrEqual(6);
      expect(logLines(app).filter((l) => l.msg === 'email could not be sent')).toEqual([]);
      expect(await app.outbox?.counts()).toEqual({ pending: 1, failed: 0 });
    } finally {
      await app.close();
    }
  });

  describe('a server that refuses every recipient', () => {
    let sink: SmtpSink;
    let app: TestApp;
    beforeAll(async () => {
      sink = await SmtpSink.start({ rejectRecipients: true });
      app = await createTestApp({ RESET_TOKEN_DELIVERY: 'response', SMTP_URL: sink.url });
    });
    afterAll(async () => {
      await app.close();
      await sink.stop();
    });

    it('a completed reset still answers 200 and works; the failed notice is logged at level 50', async () => {
      const email = uniqueEmail();
      await register(app, email);
      const token = (await sendForm(app, 'POST', '/reset_password', { email })).json<{
        reset_token: string;
      }>().reset_token;
      const reset = await sendForm(app, 'PUT', '/reset_password', {
        email,
        reset_token: token,
        new_password: NEW_PASSWORD,
      });
      expect(reset.statusCode).toBe(200);
      expect(reset.body).toBe(JSON.stringify({ email, message: 'Password updated' }));

      const line = await waitForLogLine(
        app,
        (l) => l.reqId === requestIdOf(reset) && l.msg === 'email could not be sent',
      );
      expect(line).toMatchObject({
        level: ERROR_LEVEL,
        mail: 'reset notice',
        error: { name: 'Error', code: 'EENVELOPE' },
      });
      expect(sink.rejectedRecipients).toContain(email);
      expect(app.logLines.filter((raw) => raw.includes(token))).toEqual([]);
      const login = await sendForm(app, 'POST', '/sessions', { email, password: NEW_PASSWORD });
      expect(login.statusCode).toBe(200);
    });

    it('changePassword still answers true; the failed notice is logged at level 50', async () => {
      const { email, cookie } = await signedInUser(app);
      const answer = await graphql(
        app,
        CHANGE_PASSWORD,
        { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
        cookie,
      );
      expect(answer.errors).toBeUndefined();
      expect(answer.data).toEqual({ changePassword: true });

      const line = await waitForLogLine(
        app,
        (l) => l.reqId === requestIdOf(answer.response) && l.msg === 'email could not be sent',
      );
      expect(line).toMatchObject({ level: ERROR_LEVEL, mail: 'change notice' });
      expect(sink.rejectedRecipients).toContain(email);
    });
  });

  it('a message refused after DATA: the answer is unchanged and no log line holds the token the server saw', async () => {
    const sink = await SmtpSink.start({ rejectData: true });
    const app = await createTestApp(emailDelivery(sink.url));
    try {
      const email = uniqueEmail();
      await register(app, email);
      const response = await sendForm(app, 'POST', '/reset_password', { email });
      expect(response.statusCode).toBe(200);
      expect(response.body).toBe(JSON.stringify({ email, message: 'reset email sent' }));

      const line = await waitForLogLine(app, (l) => l.msg === 'email could not be sent');
      expect(line).toMatchObject({ level: ERROR_LEVEL, reqId: requestIdOf(response), mail: 'reset' });
      expect(sink.refused).toHaveLength(1);
      expect(sink.messages).toEqual([]);
      const { token } = resetLinkOf(sink.refused[0]);
      expect(token).toMatch(TOKEN_PATTERN);
      expect(app.logLines.filter((raw) => raw.includes(token))).toEqual([]);
    } finally {
      await app.close();
      await sink.stop();
    }
  });
});

it('answers a reset request before the mail server has accepted the email (mail goes in the background)', async () => {
  const sink = await SmtpSink.start({ acceptDelayMs: 1000 });
  const app = await createTestApp(emailDelivery(sink.url));
  try {
    const email = uniqueEmail();
    await register(app, email);
    const response = await sendForm(app, 'POST', '/reset_password', { email });
    const answeredAt = Date.now();
    expect(response.statusCode).toBe(200);
    expect(sink.messages).toEqual([]);

    const [message] = await sink.waitForMessagesTo(email, 1);
    expect(message.receivedAt.getTime()).toBeGreaterThan(answeredAt);
  } finally {
    await app.close();
    await sink.stop();
  }
});
