// Two instances on one PostgreSQL database share one outbox: every mail is sent exactly once, by one of them.
// @needs postgres: left out of a run without PostgreSQL (TEST_DATABASE_URL, or the local server), with a line saying so (jest.config.ts).
import { createTestApp, type TestApp } from '../helpers/test-app';
import { scratchDatabase } from '../helpers/postgres';
import { sendForm } from '../helpers/http';
import { registeredUser } from '../helpers/factories';
import { pollUntil, SmtpSink } from '../helpers/smtp';

/** Enough mails that both instances' four lanes claim at once, many times over. */
const MAILS = 40;
const WAIT_MS = 15_000;

let database: Awaited<ReturnType<typeof scratchDatabase>>;
let port: number;
let instances: TestApp[];

beforeAll(async () => {
  database = await scratchDatabase('outbox');
  const down = await SmtpSink.start();
  await down.stop();
  port = down.port;
  const env = {
    DATABASE_URL: database.url,
    RESET_TOKEN_DELIVERY: 'email',
    SMTP_URL: `smtp://127.0.0.1:${port}`,
    RESET_URL_TEMPLATE: 'https://app.example.test/reset?token={token}',
    MAIL_RETRY_MIN_SECONDS: '1',
  };
  // One after the other: the first migrates the empty database.
  instances = [await createTestApp(env)];
  instances.push(await createTestApp(env));
});
afterAll(async () => {
  await Promise.all(instances.map((app) => app.close()));
  await database.drop();
});

/** How many "email sent" lines an instance logged. */
function sentBy(app: TestApp): number {
  return app.logLines.filter((line) => line.includes('"msg":"email sent"')).length;
}

it('sends each of 40 mails, queued while the mail server was down, exactly once across both instances', async () => {
  const emails: string[] = [];
  for (let i = 0; i < MAILS; i += 1) {
    const app = instances[i % 2];
    const email = await registeredUser(app);
    expect((await sendForm(app, 'POST', '/reset_password', { email })).statusCode).toBe(200);
    emails.push(email);
  }
  // Every mail has failed once against the stopped server and waits for its retry.
  await pollUntil(
    () =>
      instances.reduce((sum, app) => sum + app.logLines.filter((l) => l.includes('will retry')).length, 0) >=
      MAILS,
    WAIT_MS,
    () => `${MAILS} first attempts`,
  );

  const sink = await SmtpSink.start({ port });
  try {
    // Both clocks pass the back-off at once, so both workers find all 40 due and race for them.
    for (const app of instances) app.clock.advanceSeconds(5);
    await sink.waitForMessages(MAILS, WAIT_MS);
    await Promise.all(instances.map((app) => app.settled()));
    // Let a duplicate, if there were one, arrive: both workers poll every 2 s.
    await new Promise((resolve) => setTimeout(resolve, 2500));

    const recipients = sink.messages.flatMap((message) => message.envelopeTo);
    expect(recipients).toHaveLength(MAILS);
    expect([...recipients].sort()).toEqual([...emails].sort());
    expect(sentBy(instances[0]) + sentBy(instances[1])).toBe(MAILS);
    expect(await instances[0]?.outbox?.counts()).toEqual({ pending: 0, failed: 0 });
  } finally {
    await sink.stop();
  }
});
