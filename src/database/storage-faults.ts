// Remembers the SQLite file's recent storage faults (disk full, read-only, I/O errors) so that /readyz can say why.
import type { Knex } from '@mikro-orm/knex';
import type { Clock, Logger } from '../shared';

/**
 * How long one storage fault keeps the instance "not ready". A fault says nothing about when it ends (space
 * freed, the filesystem remounted read-write), and a load balancer that stopped sending writes would never show
 * that it has: so readiness returns after this quiet time, traffic comes back, and the next write either works or
 * fails and starts the wait again. Long enough that a probe every few seconds sees the fault; short enough that
 * an instance is back within seconds of the fix.
 */
export const STORAGE_FAULT_HOLD_MS = 10_000;

/**
 * SQLite's result codes that are about the storage under the file, not the statement: nothing was written, and
 * the same statement succeeds once the fault is cleared. (They are also answered 503: see database-errors.ts.)
 */
const STORAGE_FAULT_CODES: ReadonlySet<string> = new Set(['SQLITE_FULL', 'SQLITE_READONLY', 'SQLITE_IOERR']);

/** The storage fault code of a driver error, or null for any other error. */
function storageFaultCode(error: unknown): string | null {
  if (typeof error !== 'object' || error === null || !('code' in error)) return null;
  const { code } = error;
  return typeof code === 'string' && STORAGE_FAULT_CODES.has(code) ? code : null;
}

/**
 * Watches every statement on the SQLite connection (requests, the outbox worker, the clean-up alike) through
 * knex's `query-error` event, so no caller has to report a fault. The first fault of a spell is logged once at
 * error level, and its end once at info level; /readyz answers `not ready` with the code meanwhile.
 */
export class StorageFaults {
  private last: { readonly code: string; readonly atMs: number } | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** Listens to a knex instance's failed statements. */
  watch(knex: Knex): void {
    knex.on('query-error', (error: unknown) => this.saw(error));
  }

  /** Why the instance is not ready (`database storage failing (SQLITE_FULL)`), or null. */
  notReadyReason(): string | null {
    if (this.last === null) return null;
    if (this.clock.now().getTime() - this.last.atMs >= STORAGE_FAULT_HOLD_MS) {
      this.log.info({ code: this.last.code }, 'no database storage fault for a while: reporting ready again');
      this.last = null;
      return null;
    }
    return `database storage failing (${this.last.code})`;
  }

  private saw(error: unknown): void {
    const code = storageFaultCode(error);
    if (code === null) return;
    if (this.last === null) {
      this.log.error({ code }, 'database storage failing: writes are answered 503 until it is fixed');
    }
    this.last = { code, atMs: this.clock.now().getTime() };
  }
}
