// The mail module's public surface: the messages we send, the SMTP mailer, and the outbox that makes delivery durable.
export { SmtpMailer, type Mailer, type MailMessage, type SendOptions } from './mailer';
export {
  passwordChangedNotice,
  passwordResetNotice,
  resetEmail,
  resetUrl,
  type ChangeOrigin,
} from './messages';
export { MailOutbox, OUTBOX_LEASE_MS, type MailOutboxOptions } from './outbox';
export {
  enqueueMail,
  removeFailedMailOlderThan,
  type OutboxCounts,
  type OutgoingMail,
} from './outbox.repository';
