// A real SMTP server on 127.0.0.1 for tests: keeps every message it accepts, parsed, and can refuse on request.
import type { AddressInfo } from 'node:net';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';

/** How long waitForMessages waits by default: local delivery takes milliseconds, so seconds mean it never came. */
const DEFAULT_TIMEOUT_MS = 5000;
/** How often a wait looks again. */
const POLL_INTERVAL_MS = 20;
/** How long stop() lets open SMTP sessions finish before it cuts them. */
const CLOSE_TIMEOUT_MS = 500;

/** One message as the sink received it: the SMTP envelope, the raw source and mailparser's reading of it. */
export interface ReceivedMessage {
  /** MAIL FROM, or null for a bounce (`MAIL FROM:<>`). */
  readonly envelopeFrom: string | null;
  /** Every RCPT TO the server accepted for this message. */
  readonly envelopeTo: readonly string[];
  /** The message exactly as sent (RFC 5322 source). */
  readonly raw: string;
  /** The parsed message (headers decoded, transfer encoding undone). */
  readonly parsed: ParsedMail;
  /** The Subject header, decoded ('' when absent). */
  readonly subject: string;
  /** The plain-text body, decoded ('' when absent). */
  readonly text: string;
  /** When the sink finished with the message (after any acceptDelayMs). */
  readonly receivedAt: Date;
}

/** How the sink treats what it is sent. By default it accepts everything at once. */
export interface SmtpSinkOptions {
  /**
   * Refuses recipients at RCPT TO with 550, as a server does for an unknown mailbox: every recipient (true) or
   * those the predicate picks. The sender then gets an error and no message is sent.
   */
  readonly rejectRecipients?: boolean | ((address: string) => boolean);
  /**
   * Reads each message whole, keeps it in `refused`, then answers 554: the sender sees a failure although the
   * content was seen, so a test can check what the sender does with a message it could not deliver.
   */
  readonly rejectData?: boolean;
  /** Holds each message this long before answering: a slow mail server. */
  readonly acceptDelayMs?: number;
  /** Listens on this port (a sink started again where a stopped one was); default a free one. */
  readonly port?: number;
}

/**
 * Polls `condition` every few milliseconds until it holds or `timeoutMs` has passed.
 * @param describe says what was awaited, for the error thrown on timeout (called only then).
 * @throws Error when the deadline passes first.
 */
export async function pollUntil(
  condition: () => boolean,
  timeoutMs: number,
  describe: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}

/** An Error carrying an SMTP reply code, the way smtp-server's callbacks take a refusal. */
function smtpError(responseCode: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode });
}

/** The address of an envelope entry (smtp-server gives `false` for an absent MAIL FROM). */
function envelopeFromOf(session: SMTPServerSession): string | null {
  const from = session.envelope.mailFrom;
  return from === false || from.address === '' ? null : from.address;
}

/** Reads a DATA stream to the end. */
async function readAll(stream: SMTPServerDataStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks);
}

/**
 * A real SMTP server listening on 127.0.0.1 on a free port, plain text (no STARTTLS, no authentication), for the
 * app to send to through `url`. Start with `SmtpSink.start()`, stop with `stop()` in afterAll/afterEach.
 */
export class SmtpSink {
  /** Messages accepted, in the order the sink accepted them. */
  readonly messages: ReceivedMessage[] = [];
  /** Messages read and then refused (rejectData). */
  readonly refused: ReceivedMessage[] = [];
  /** Recipients refused at RCPT TO (rejectRecipients), in order. */
  readonly rejectedRecipients: string[] = [];

  private constructor(
    private readonly server: SMTPServer,
    /** The port the sink listens on. */
    readonly port: number,
  ) {}

  /** Starts a sink on 127.0.0.1, on `options.port` or else a free port picked by the system. */
  static async start(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
    const { rejectRecipients = false, rejectData = false, acceptDelayMs = 0, port: wanted = 0 } = options;
    // Filled in below once the server exists; the callbacks only run after that.
    let sink: SmtpSink | null = null;
    const refuses = (address: string): boolean =>
      typeof rejectRecipients === 'function' ? rejectRecipients(address) : rejectRecipients;
    const server = new SMTPServer({
      secure: false,
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      closeTimeout: CLOSE_TIMEOUT_MS,
      onRcptTo(address, _session, callback) {
        if (!refuses(address.address)) return callback();
        sink?.rejectedRecipients.push(address.address);
        return callback(smtpError(550, `mailbox unavailable: ${address.address}`));
      },
      onData(stream, session, callback) {
        readAll(stream)
          .then(async (raw) => {
            const parsed = await simpleParser(raw);
            if (acceptDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, acceptDelayMs));
            const message: ReceivedMessage = {
              envelopeFrom: envelopeFromOf(session),
              envelopeTo: session.envelope.rcptTo.map((rcpt) => rcpt.address),
              raw: raw.toString('utf8'),
              parsed,
              subject: parsed.subject ?? '',
              text: parsed.text ?? '',
              receivedAt: new Date(),
            };
            if (rejectData) {
              sink?.refused.push(message);
              callback(smtpError(554, 'message refused'));
            } else {
              sink?.messages.push(message);
              callback();
            }
          })
          .catch((error: unknown) => callback(error instanceof Error ? error : new Error(String(error))));
      },
    });
    const port = await new Promise<number>((resolve, reject) => {
      server.server.once('error', reject);
      server.listen(wanted, '127.0.0.1', () => {
        server.server.off('error', reject);
        resolve((server.server.address() as AddressInfo).port);
      });
    });
    sink = new SmtpSink(server, port);
    return sink;
  }

  /** The SMTP_URL that reaches this sink. */
  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  /** The environment of an app that sends reset tokens by email through this sink, with an https reset link. */
  get emailDelivery(): Record<string, string> {
    return {
      RESET_TOKEN_DELIVERY: 'email',
      SMTP_URL: this.url,
      RESET_URL_TEMPLATE: 'https://app.example.test/reset?token={token}',
    };
  }

  /** Accepted messages with this recipient in their envelope. */
  messagesTo(address: string): ReceivedMessage[] {
    return this.messages.filter((message) => message.envelopeTo.includes(address));
  }

  /**
   * Waits until at least `count` messages have been accepted, and returns them all.
   * @throws Error after `timeoutMs`, listing what did arrive.
   */
  async waitForMessages(count: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ReceivedMessage[]> {
    await pollUntil(
      () => this.messages.length >= count,
      timeoutMs,
      () => `${count} message(s); got ${this.describe(this.messages)}`,
    );
    return [...this.messages];
  }

  /**
   * Waits until at least `count` accepted messages are addressed to `address`, and returns those.
   * @throws Error after `timeoutMs`, listing what did arrive.
   */
  async waitForMessagesTo(
    address: string,
    count: number,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<ReceivedMessage[]> {
    await pollUntil(
      () => this.messagesTo(address).length >= count,
      timeoutMs,
      () => `${count} message(s) to ${address}; got ${this.describe(this.messages)}`,
    );
    return this.messagesTo(address);
  }

  /** Stops listening; open sessions get CLOSE_TIMEOUT_MS to finish. */
  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private describe(messages: readonly ReceivedMessage[]): string {
    if (messages.length === 0) return 'none';
    return messages.map((m) => `"${m.subject}" to ${m.envelopeTo.join(', ')}`).join('; ');
  }
}

/** The addresses of a parsed address header (To, From), each with its display name. */
export function addressesOf(
  header: AddressObject | AddressObject[] | undefined,
): { address?: string; name: string }[] {
  if (header === undefined) return [];
  return (Array.isArray(header) ? header : [header]).flatMap((object) =>
    object.value.map(({ address, name }) => ({ address, name })),
  );
}
