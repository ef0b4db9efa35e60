// The accounts module's public surface: the account service, password hashing and policy, and the repositories the exercise names.
export {
  AccountService,
  isCredentialsRefused,
  maxLiveResetTokens,
  type AccountServiceDeps,
  type CredentialsRefusal,
  type CredentialsRefused,
  type MailFor,
  type ResetTokenGrant,
  type ResetTokenLifetimes,
} from './account.service';
export {
  checkNewPassword,
  isCanonicalMailbox,
  isPlausiblePassword,
  lookupEmail,
  normaliseEmail,
  normalisePassword,
  parseEmail,
  PASSWORD_MAX_BYTES,
  PASSWORD_MIN_BYTES,
} from './input-policy';
export {
  DOMAIN_LABEL_MAX_OCTETS,
  DOMAIN_MAX_OCTETS,
  LOCAL_PART_MAX_OCTETS,
  parseMailbox,
  type MailboxResult,
} from './mailbox';
export { commonPasswordCount, isCommonPassword } from './common-passwords';
export { hashPassword, PasswordHasher, type HashingLimits } from './password';
export { UserRepository, type UserFields } from './user.repository';
export { ResetTokenRepository } from './reset-token.repository';
