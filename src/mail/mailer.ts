// Outgoing email over SMTP (nodemailer): the one place the service talks to a mail server.
import nodemailer, { type Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport';

/** One plain-text message. */
export interface MailMessage {
  /** Exactly one mailbox (an account's canonical email), never an address list. */
  readonly to: string;
  readonly subject: string;
  readonly text: string;
}

/** Sends mail; the composition root picks the implementation. */
export interface Mailer {
  /** Resolves when the server has accepted the message; rejects when it has not. */
  send(message: MailMessage): Promise<void>;
  /** Closes pooled connections. */
  close(): void;
}

/** How long one SMTP exchange may take: a stalled mail server must not hold connections (and memory) forever. */
const SMTP_TIMEOUT_MS = 10_000;

/** A Mailer that sends through the SMTP server of `smtpUrl` (smtp:// with STARTTLS when offered, or smtps://). */
export class SmtpMailer implements Mailer {
  private readonly transport: Transporter<SMTPTransport.SentMessageInfo>;

  constructor(
    smtpUrl: string,
    private readonly from: string,
  ) {
    const options: SMTPTransport.Options = {
      url: smtpUrl,
      connectionTimeout: SMTP_TIMEOUT_MS,
      greetingTimeout: SMTP_TIMEOUT_MS,
      socketTimeout: SMTP_TIMEOUT_MS,
    };
    this.transport = nodemailer.createTransport(options);
  }

  async send(message: MailMessage): Promise<void> {
    // The recipient goes as an address object, never as a string: nodemailer parses a string as an address list,
    // with display names, groups and comments, so `x<victim@corp.example>` would be delivered to the victim.
    // Given an object it uses the address as it is. (Account emails are single mailboxes anyway: see mailbox.ts.)
    await this.transport.sendMail({
      from: this.from,
      to: { name: '', address: message.to },
      subject: message.subject,
      text: message.text,
    });
  }

  close(): void {
    this.transport.close();
  }
}
