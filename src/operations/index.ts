// The use-case layer's public surface: the one door the transports go through, and how any error is told to a client.
export {
  AuthOperations,
  type AuthOperationsDeps,
  type Caller,
  type Delivery,
  type ResetRequestAnswer,
} from './auth-operations';
export { publicError, type PublicError } from './public-error';
export { USER_AGENT_MAX_LENGTH } from '../entities/security-event.entity';
export type { NewSession, SessionInfo, ValidSession } from '../sessions';
export type { PublicUser } from '../shared';
