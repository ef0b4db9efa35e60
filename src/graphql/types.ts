// GraphQL types: the public shape of a user and of a reset request (nothing secret), and operation arguments.
import { ArgsType, Field, ID, Int, ObjectType } from 'type-graphql';

/** A user as clients see it: never the password hash, tokens or sessions. */
@ObjectType('User')
export class UserType {
  @Field(() => ID)
  id!: number;

  @Field(() => String)
  email!: string;

  @Field(() => Date)
  createdAt!: Date;
}

/** The answer to a reset request. `resetToken` is present while tokens are delivered in the response. */
@ObjectType('PasswordResetRequest')
export class PasswordResetRequestType {
  @Field(() => String)
  email!: string;

  @Field(() => String, { nullable: true })
  resetToken!: string | null;
}

/** Arguments of register and login. */
@ArgsType()
export class CredentialsArgs {
  @Field(() => String)
  email!: string;

  @Field(() => String)
  password!: string;
}

/** Arguments of requestPasswordReset. */
@ArgsType()
export class EmailArgs {
  @Field(() => String)
  email!: string;
}

/** Arguments of resetPassword. */
@ArgsType()
export class ResetPasswordArgs {
  @Field(() => String)
  email!: string;

  @Field(() => String)
  resetToken!: string;

  @Field(() => String)
  newPassword!: string;
}

/** One of the signed-in user's sessions. `id` is a random public id: never the cookie token or its hash. */
@ObjectType('SessionInfo')
export class SessionInfoType {
  @Field(() => ID)
  id!: string;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date)
  lastSeenAt!: Date;

  @Field(() => Date)
  expiresAt!: Date;

  @Field(() => String, { nullable: true })
  userAgent!: string | null;

  @Field(() => String, { nullable: true })
  ip!: string | null;

  @Field(() => Boolean, { description: 'True for the session making this request.' })
  current!: boolean;
}

/** An entry of the signed-in user's security log. Never a password, token or hash. */
@ObjectType('SecurityEvent')
export class SecurityEventType {
  @Field(() => ID)
  id!: number;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => String, {
    description:
      'REGISTERED, LOGIN_SUCCEEDED, LOGIN_FAILED, LOGGED_OUT, SESSION_REVOKED, LOGGED_OUT_EVERYWHERE, ' +
      'PASSWORD_RESET_REQUESTED, PASSWORD_RESET_COMPLETED, PASSWORD_CHANGED or RATE_LIMITED.',
  })
  type!: string;

  @Field(() => String, { nullable: true })
  email!: string | null;

  @Field(() => String, { nullable: true })
  ip!: string | null;

  @Field(() => String, { nullable: true })
  userAgent!: string | null;

  @Field(() => String, { nullable: true, description: 'Why a failure failed, such as WRONG_PASSWORD.' })
  reason!: string | null;

  @Field(() => Int, {
    description:
      'How many times it happened: 1, except for RATE_LIMITED, which is recorded once a minute per client ' +
      'network and account with the number of refused requests (createdAt is the first of them).',
  })
  count!: number;
}

/** Arguments of changePassword. */
@ArgsType()
export class ChangePasswordArgs {
  @Field(() => String)
  currentPassword!: string;

  @Field(() => String)
  newPassword!: string;
}

/** Arguments of revokeSession. */
@ArgsType()
export class RevokeSessionArgs {
  @Field(() => ID)
  id!: string;
}

/** Arguments of securityEvents. */
@ArgsType()
export class SecurityEventsArgs {
  @Field(() => Int, { defaultValue: 20, description: 'How many events, newest first: 1 to 100.' })
  limit!: number;
}
