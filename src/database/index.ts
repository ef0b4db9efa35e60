// The database module's public surface: opening and migrating it, recognising outages, watching storage faults.
export {
  databaseNotReadyReason,
  initOrm,
  nonconformingEmailUserIds,
  openDatabase,
  ormOptions,
  type DriverLog,
  type OpenedDatabase,
  type Orm,
  warnOfNonconformingEmails,
} from './orm';
export { isDatabaseUnavailable } from './errors';
export { StorageFaults, STORAGE_FAULT_HOLD_MS } from './storage-faults';
