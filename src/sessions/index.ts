// The sessions module's public surface: the session service, the hot-path store, and what a session looks like.
export {
  endSessionsOfUser,
  SessionService,
  UNKNOWN_DEVICE,
  type DeviceInfo,
  type NewSession,
  type SessionInfo,
  type SessionLifetimes,
  type SessionServiceDeps,
  type ValidSession,
} from './session.service';
export { SessionStore, type SessionRecord } from './session-store';
export { SessionRepository } from './session.repository';
