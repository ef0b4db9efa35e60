// The outbox worker: sends the mail the outbox holds, retrying with back-off, until it is sent, refused or too late.
import type { SqlEntityManager } from '@mikro-orm/knex';
import type { Clock, Logger } from '../shared';
import type { Mailer } from './mailer';
import { OutboxRepository, type ClaimedMail, type OutboxCounts } from './outbox.repository';

/**
 * How long a claim holds a mail. Longer than one SMTP exchange can take (connect, greeting and each reply have
 * 10 s each: see SmtpMailer), so a worker still sending is never overtaken; a worker that died mid-send lets its
 * mail go after this and another sends it.
 */
export const OUTBOX_LEASE_MS = 2 * 60 * 1000;
/** How often an idle worker looks for mail: due retries, and mail other instances wrote. */
const DEFAULT_POLL_MS = 2_000;
/** Mails sent at once per instance: one slow message must not hold up the rest. */
const DEFAULT_LANES = 2;
/** Back-off spread: each wait is the nominal one times a factor in [1 - JITTER, 1 + JITTER]. */
const JITTER = 0.2;
/** SMTP reply codes from here up are permanent refusals (RFC 5321 §4.2.1): sending again would be refused again. */
const SMTP_PERMANENT_FROM = 500;

/** What the worker needs and how it paces itself. */
export interface MailOutboxOptions {
  readonly em: SqlEntityManager;
  readonly mailer: Mailer;
  readonly log: Logger;
  readonly clock: Clock;
  /** PostgreSQL: claim rows FOR UPDATE SKIP LOCKED, so that instances never wait on each other's mail. */
  readonly skipLocked: boolean;
  /** The first wait after a temporary failure; each further one doubles, up to `retryMaxSeconds`. */
  readonly retryMinSeconds: number;
  readonly retryMaxSeconds: number;
  readonly pollMs?: number;
  readonly lanes?: number;
}

/** How a failed attempt is recorded: the code kept and logged, and whether another attempt could succeed. */
interface Failure {
  readonly code: string;
  readonly permanent: boolean;
  readonly log: { readonly name: string; readonly code?: string; readonly responseCode?: number };
}

/**
 * Sends the outbox's mail. A mail is claimed by exactly one worker at a time (on PostgreSQL across instances too),
 * handed to the mail server, and deleted once the server accepted it. A temporary failure (no connection, a 4xx
 * reply) makes it due again after a back-off; a permanent one (a 5xx reply) or its expiry gives it up, logged at
 * error level and kept as `failed`. Delivery is at least once: a worker that dies after the server accepted a
 * mail but before deleting it leaves it to be sent again once the claim lapses, under the same Message-ID so
 * that mail software can tell the copy.
 */
export class MailOutbox {
  private readonly pollMs: number;
  private readonly lanes: number;
  private timer: NodeJS.Timeout | undefined;
  private draining: Promise<void> | undefined;
  private kickedWhileDraining = false;
  private stopped = true;
  /** Whether the last read of the outbox failed: an outage is logged once, not once a poll. */
  private unreachable = false;

  constructor(private readonly options: MailOutboxOptions) {
    this.pollMs = options.pollMs ?? DEFAULT_POLL_MS;
    this.lanes = options.lanes ?? DEFAULT_LANES;
  }

  /** Starts sending: at once (mail left by an earlier run), then whenever kicked and every poll interval. */
  start(): void {
    this.stopped = false;
    this.kick();
  }

  /** Looks for mail now: called after a transaction that wrote some has committed. */
  kick(): void {
    if (this.stopped) return;
    if (this.draining !== undefined) {
      this.kickedWhileDraining = true;
      return;
    }
    clearTimeout(this.timer);
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      this.schedule();
    });
  }

  /**
   * Stops claiming mail and waits for mails being sent to finish, so none is cut off mid-exchange. What is still
   * pending stays in the outbox for the next start (or another instance).
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.draining;
  }

  /** Resolves when no mail is being sent (retries not yet due do not count): for tests and scripts. */
  async idle(): Promise<void> {
    while (this.draining !== undefined) await this.draining;
  }

  /** How many mails are pending and how many failed. */
  counts(): Promise<OutboxCounts> {
    return new OutboxRepository(this.options.em.fork()).counts();
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.kickedWhileDraining) {
      this.kickedWhileDraining = false;
      this.kick();
      return;
    }
    // Unref'd: an idle worker never keeps the process alive on its own.
    this.timer = setTimeout(() => this.kick(), this.pollMs);
    this.timer.unref();
  }

  private async drain(): Promise<void> {
    await Promise.all(Array.from({ length: this.lanes }, () => this.lane()));
  }

  /** Claims and sends one mail after another until none is due or the worker stops. */
  private async lane(): Promise<void> {
    while (!this.stopped) {
      const mail = await this.claim();
      if (mail === null) return;
      await this.deliver(mail);
    }
  }

  private async claim(): Promise<ClaimedMail | null> {
    try {
      const mail = await this.options.em
        .fork()
        .transactional((tx) =>
          new OutboxRepository(tx).claimNext(
            this.options.clock.now(),
            OUTBOX_LEASE_MS,
            this.options.skipLocked,
          ),
        );
      if (this.unreachable) this.options.log.info('mail outbox reachable again');
      this.unreachable = false;
      return mail;
    } catch (error) {
      // A database outage: requests already answer 503 for it. The mail waits in the outbox; the next poll retries.
      if (!this.unreachable) {
        this.options.log.error(
          { error: { name: errorName(error), code: errorCode(error) } },
          'mail outbox unavailable',
        );
      }
      this.unreachable = true;
      return null;
    }
  }

  private async deliver(mail: ClaimedMail): Promise<void> {
    const log = this.options.log.child({ reqId: mail.requestId ?? undefined, mail: mail.kind });
    if (this.options.clock.now() >= mail.expiresAt) {
      await this.record(mail, () => this.giveUp(mail, log, expired()));
      return;
    }
    try {
      await this.options.mailer.send(mail.message, {
        messageKey: `outbox.${mail.id}.${mail.createdAt.getTime()}`,
      });
    } catch (error) {
      const failure = classify(error);
      await this.record(mail, () =>
        failure.permanent ? this.giveUp(mail, log, failure) : this.retryLater(mail, log, failure),
      );
      return;
    }
    await this.record(mail, async () => {
      await new OutboxRepository(this.options.em.fork()).sent(mail.id);
      log.info({ attempt: mail.attempt }, 'email sent');
    });
  }

  /**
   * Writes an outcome. If the database is away, the claim lapses on its own and the mail is tried again: for a
   * mail the server accepted, that is the one case where it can arrive twice.
   */
  private async record(mail: ClaimedMail, write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } catch (error) {
      this.options.log.error(
        { mail: mail.kind, error: { name: errorName(error), code: errorCode(error) } },
        'mail outbox could not record a delivery: the mail will be tried again',
      );
    }
  }

  private async retryLater(mail: ClaimedMail, log: Logger, failure: Failure): Promise<void> {
    const now = this.options.clock.now();
    const waitMs = this.backoffMs(mail.attempt);
    const at = new Date(now.getTime() + waitMs);
    // A retry that could only come after the mail expired would be given up then anyway: give it up now.
    if (at >= mail.expiresAt) {
      await this.giveUp(mail, log, failure);
      return;
    }
    await new OutboxRepository(this.options.em.fork()).retryAt(mail.id, at, failure.code);
    log.warn(
      { attempt: mail.attempt, retryInSeconds: Math.ceil(waitMs / 1000), error: failure.log },
      'email not sent yet: will retry',
    );
  }

  private async giveUp(mail: ClaimedMail, log: Logger, failure: Failure): Promise<void> {
    await new OutboxRepository(this.options.em.fork()).giveUp(
      mail.id,
      this.options.clock.now(),
      failure.code,
    );
    log.error({ attempt: mail.attempt, error: failure.log }, 'email could not be sent');
  }

  /** The wait before attempt `attempt + 1`: doubling from the minimum, capped, with jitter so retries spread out. */
  private backoffMs(attempt: number): number {
    const { retryMinSeconds, retryMaxSeconds } = this.options;
    const nominal = Math.min(retryMaxSeconds, retryMinSeconds * 2 ** Math.min(attempt - 1, 30));
    // Not a security decision: Math.random only spreads retries of many mails so they do not all hit at once.
    const factor = 1 - JITTER + Math.random() * 2 * JITTER;
    return Math.round(nominal * factor * 1000);
  }
}

/** The failure of a mail that was still pending when it expired. */
function expired(): Failure {
  return { code: 'EXPIRED', permanent: true, log: { name: 'Expired', code: 'EXPIRED' } };
}

/**
 * Reads nodemailer's error: its code (ECONNECTION, ESOCKET, EENVELOPE, EMESSAGE, ...) and the server's reply code
 * when it replied. Only a 5xx reply is permanent; everything else (no connection, a timeout, a 4xx "try later")
 * may succeed next time. The server's text is never kept: it may quote the message, and with it a token.
 */
function classify(error: unknown): Failure {
  const code = errorCode(error);
  const responseCode = replyCode(error);
  const stored = [code, responseCode === undefined ? undefined : `SMTP_${responseCode}`]
    .filter((part) => part !== undefined)
    .join(' ');
  return {
    code: stored === '' ? 'UNKNOWN' : stored,
    permanent: responseCode !== undefined && responseCode >= SMTP_PERMANENT_FROM,
    log: {
      name: errorName(error),
      ...(code === undefined ? {} : { code }),
      ...(responseCode === undefined ? {} : { responseCode }),
    },
  };
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'Error';
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}

function replyCode(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('responseCode' in error)) return undefined;
  return typeof error.responseCode === 'number' ? error.responseCode : undefined;
}
