// The audit module's public surface: the security event log and the periodic clean-up of expired data.
export { Cleanup, type CleanupOptions, type CleanupResult, type CleanupStep } from './cleanup';
export {
  REFUSAL_WINDOW_SECONDS,
  SecurityLog,
  type EventSource,
  type EventSubject,
  type SecurityLogOptions,
} from './security-log';
