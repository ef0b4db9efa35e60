// Sessions: issue, validate (the hot path, through SessionStore), list, revoke and end; the exercise's session names.
import type { SqlEntityManager } from '@mikro-orm/knex';
import { drain, generateToken, hashToken, isWellFormedToken, type Clock, type PublicUser } from '../shared';
import { SessionRepository } from './session.repository';
import type { SessionStore } from './session-store';

const MS_PER_SECOND = 1000;

/** How long sessions live. */
export interface SessionLifetimes {
  readonly sessionIdleTtlSeconds: number;
  readonly sessionAbsoluteTtlSeconds: number;
  readonly sessionTouchIntervalSeconds: number;
}

/** A session just created: the secret for the cookie and how long the cookie should live. */
export interface NewSession {
  /** The session's row id: for the service's own bookkeeping, never sent to a client. */
  readonly sessionId: number;
  readonly user: PublicUser;
  /** The cookie value. It exists only here and in the client's cookie jar; the database has its hash. */
  readonly token: string;
  readonly maxAgeSeconds: number;
}

/** The result of checking a session cookie: the user, and whether its expiry moved (so the cookie should too). */
export interface ValidSession {
  readonly sessionId: number;
  readonly user: PublicUser;
  readonly expiresAt: Date;
  /** True when this request extended the sliding expiry; the transport then re-sends the cookie. */
  readonly refreshed: boolean;
  /** Seconds from now until the session expires: the Max-Age for a re-sent cookie. */
  readonly maxAgeSeconds: number;
}

/** Where a session was started from, kept with it so its owner can recognise it. */
export interface DeviceInfo {
  readonly userAgent: string | null;
  readonly ip: string | null;
}

/** A device nobody described (the exercise API's calls). */
export const UNKNOWN_DEVICE: DeviceInfo = { userAgent: null, ip: null };

/** What a user sees of one of their sessions: never its token or its hash. */
export interface SessionInfo {
  readonly sessionId: number;
  readonly publicId: string;
  readonly createdAt: Date;
  readonly lastSeenAt: Date;
  readonly expiresAt: Date;
  readonly userAgent: string | null;
  readonly ip: string | null;
}

/** Dependencies of SessionService, wired by the composition root. */
export interface SessionServiceDeps {
  readonly em: SqlEntityManager;
  readonly sessionStore: SessionStore;
  readonly clock: Clock;
  readonly lifetimes: SessionLifetimes;
}

function addSeconds(date: Date, seconds: number): Date {
  return new Date(date.getTime() + seconds * MS_PER_SECOND);
}

/**
 * Ends every session of a user inside the caller's transaction, but `exceptSessionId` if given: what a password
 * reset or change does in the same transaction as the new hash, so no session started with the old one survives.
 */
export async function endSessionsOfUser(
  tx: SqlEntityManager,
  userId: number,
  exceptSessionId?: number,
): Promise<void> {
  const sessions = new SessionRepository(tx);
  if (exceptSessionId === undefined) await sessions.deleteAllForUser(userId);
  else await sessions.deleteAllForUserExcept(userId, exceptSessionId);
}

/**
 * Every session operation. Knows nothing about HTTP or GraphQL, nor about passwords: accounts prove who someone is
 * and then ask for a session here. Absence is a value (null / false): an unknown or expired cookie is normal.
 */
export class SessionService {
  private readonly em: SqlEntityManager;
  private readonly sessionStore: SessionStore;
  private readonly clock: Clock;
  private readonly lifetimes: SessionLifetimes;

  constructor(deps: SessionServiceDeps) {
    this.em = deps.em;
    this.sessionStore = deps.sessionStore;
    this.clock = deps.clock;
    this.lifetimes = deps.lifetimes;
  }

  /** Starts a session for a user whose identity was just proved, and returns its secret token. */
  async start(user: PublicUser, device: DeviceInfo = UNKNOWN_DEVICE): Promise<NewSession> {
    const token = generateToken();
    const now = this.clock.now();
    const session = await this.sessions().createSession(
      user.id,
      hashToken(token),
      now,
      this.sessionExpiry(now, now),
      device,
    );
    // The idle TTL never exceeds the absolute one (config checks it), so a fresh session's cookie lives idle-TTL long.
    return { sessionId: session.id, user, token, maxAgeSeconds: this.lifetimes.sessionIdleTtlSeconds };
  }

  /** The user a session token belongs to, or null (unknown, expired or malformed token). */
  async getUserFromSessionId(token: unknown): Promise<PublicUser | null> {
    return (await this.validateSession(token))?.user ?? null;
  }

  /**
   * Checks a session token: null when it is malformed, unknown or expired (idle or absolute).
   * Extends the sliding expiry at most once per touch interval, so most requests are one read and no write.
   */
  async validateSession(token: unknown): Promise<ValidSession | null> {
    // Malformed values never reach the database: it saves a query and keeps garbage out of SQL parameters.
    if (!isWellFormedToken(token)) return null;
    const record = await this.sessionStore.findByTokenHash(hashToken(token));
    if (record === null) return null;

    const now = this.clock.now();
    // The stored expiry was computed with the lifetimes of its day; checking today's lifetimes as well makes a
    // lowered idle or absolute TTL apply to sessions issued before the change.
    const idleEnd = addSeconds(record.lastSeenAt, this.lifetimes.sessionIdleTtlSeconds);
    const absoluteEnd = addSeconds(record.sessionCreatedAt, this.lifetimes.sessionAbsoluteTtlSeconds);
    if (now >= record.expiresAt || now >= idleEnd || now >= absoluteEnd) {
      await this.sessions().deleteById(record.sessionId);
      return null;
    }

    const user = { id: record.userId, email: record.email, createdAt: record.userCreatedAt };
    const sinceLastWriteMs = now.getTime() - record.lastSeenAt.getTime();
    const refreshed = sinceLastWriteMs >= this.lifetimes.sessionTouchIntervalSeconds * MS_PER_SECOND;
    const expiresAt = refreshed ? this.sessionExpiry(now, record.sessionCreatedAt) : record.expiresAt;
    if (refreshed) await this.sessions().touch(record.sessionId, now, expiresAt);
    const maxAgeSeconds = Math.floor((expiresAt.getTime() - now.getTime()) / MS_PER_SECOND);
    return { sessionId: record.sessionId, user, expiresAt, refreshed, maxAgeSeconds };
  }

  /**
   * Ends the session with this token (the exercise's `destroy_session`). Returns false when there was no
   * valid session to end: an expired one counts as none, as it does for every other request.
   */
  async destroySession(token: unknown): Promise<boolean> {
    const session = await this.validateSession(token);
    return session === null ? false : this.endSession(session.sessionId);
  }

  /** Ends a session already validated by the caller; returns whether it still existed. */
  async endSession(sessionId: number): Promise<boolean> {
    return (await this.sessions().deleteById(sessionId)) > 0;
  }

  /** A user's live sessions, newest first. */
  async listSessions(userId: number): Promise<SessionInfo[]> {
    const sessions = await this.sessions().listForUser(userId, this.clock.now());
    return sessions.map((session) => ({
      sessionId: session.id,
      publicId: session.publicId,
      createdAt: session.createdAt,
      lastSeenAt: session.lastSeenAt,
      expiresAt: session.expiresAt,
      userAgent: session.userAgent,
      ip: session.ip,
    }));
  }

  /** Ends one of the user's own sessions by its public id; false (and nothing changes) for any other id. */
  async revokeSession(userId: number, publicId: string): Promise<boolean> {
    return (await this.sessions().deleteByPublicId(userId, publicId)) > 0;
  }

  /** Ends every session of the user, the current one included; returns how many live ones ended. */
  logoutEverywhere(userId: number): Promise<number> {
    return this.sessions().deleteAllForUserCountingLive(userId, this.clock.now());
  }

  /** Removes sessions past their expiry, `batchSize` rows per statement; returns how many. */
  removeExpired(batchSize: number): Promise<number> {
    const now = this.clock.now();
    return drain(() => this.sessions().deleteExpired(now, batchSize), batchSize);
  }

  /** The sliding expiry: idle TTL from now, capped by the absolute TTL from login. */
  private sessionExpiry(now: Date, createdAt: Date): Date {
    const idleEnd = addSeconds(now, this.lifetimes.sessionIdleTtlSeconds);
    const absoluteEnd = addSeconds(createdAt, this.lifetimes.sessionAbsoluteTtlSeconds);
    return idleEnd < absoluteEnd ? idleEnd : absoluteEnd;
  }

  private sessions(): SessionRepository {
    return new SessionRepository(this.em.fork());
  }
}
