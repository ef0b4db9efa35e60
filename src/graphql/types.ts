// GraphQL types: the public shape of a user and of a reset request (nothing secret), and operation arguments.
import { ArgsType, Field, ID, ObjectType } from 'type-graphql';

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
