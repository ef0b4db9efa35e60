// What every module may use: the clock, batched deletes, secret tokens, bounded background work, logging, the public user.
export { Admission } from './admission';
export { BackgroundWork, BACKGROUND_CONCURRENCY } from './background';
export { drain } from './batches';
export { systemClock, type Clock } from './clock';
export { errorForLog, scrubSecrets, type LogFn, type Logger } from './log';
export { toPublicUser, type PublicUser } from './public-user';
export { generateToken, hashToken, isWellFormedToken } from './tokens';
export { TurnBatcher, type BatchLimits } from './turn-batcher';
