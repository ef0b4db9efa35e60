// Outgoing email over SMTP (nodemailer): the one place the service talks to a mail server.
import addressparser from 'nodemailer/lib/addressparser';
import nodemailer, { type Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport';

/** One plain-text message. */
export interface MailMessage {
  /** Exactly one mailbox (an account's canonical email), never an address list. */
  readonly to: string;
  readonly subject: string;
  readonly text: string;
}

/** How one message is sent. */
export interface SendOptions {
  /**
   * A key unique to this mail and the same on every attempt to send it: it becomes the Message-ID, so that a copy
   * sent again after a crash can be recognised as the same message by mail software.
   */
  readonly messageKey?: string;
}

/** Sends mail; the composition root picks the implementation. */
export interface Mailer {
  /** Resolves when the server has accepted the message; rejects when it has not. */
  send(message: MailMessage, options?: SendOptions): Promise<void>;
  /** Closes pooled connections. */
  close(): void;
}

/** How long one SMTP exchange may take: a stalled mail server must not hold connections (and memory) forever. */
const SMTP_TIMEOUT_MS = 10_000;

/** A Mailer that sends through the SMTP server of `smtpUrl` (smtp:// with STARTTLS when offered, or smtps://). */
export class SmtpMailer implements Mailer {
  private readonly transport: Transporter<SMTPTransport.SentMessageInfo>;

  /** The domain of MAIL_FROM's address: Message-IDs are made under it (RFC 5322 §3.6.4 asks for a unique right side). */
  private readonly idDomain: string;

  constructor(
    smtpUrl: string,
    private readonly from: string,
  ) {
    // nodemailer's own parser reads MAIL_FROM, as it does when it sends: the two cannot disagree on the address.
    const address = addressparser(from, { flatten: true })[0]?.address ?? '';
    this.idDomain = address.includes('@') ? address.slice(address.lastIndexOf('@') + 1) : 'localhost';
    const options: SMTPTransport.Options = {
      url: smtpUrl,
      connectionTimeout: SMTP_TIMEOUT_MS,
      greetingTimeout: SMTP_TIMEOUT_MS,
      socketTimeout: SMTP_TIMEOUT_MS,
    };
    this.transport = nodemailer.createTransport(options);
  }

  async send(message: MailMessage, options: SendOptions = {}): Promise<void> {
    // The recipient goes as an address object, never as a string: nodemailer parses a string as an address list,
    // with display names, groups and comments, so `x<victim@corp.example>` would be delivered to the victim.
    // Given an object it uses the address as it is. (Account emails are single mailboxes anyway: see mailbox.ts.)
    await this.transport.sendMail({
      from: this.from,
      to: { name: '', address: message.to },
      subject: message.subject,
      text: message.text,
      ...(options.messageKey === undefined ? {} : { messageId: `<${options.messageKey}@${this.idDomain}>` }),
    });
  }

  close(): void {
    this.transport.close();
  }
}
