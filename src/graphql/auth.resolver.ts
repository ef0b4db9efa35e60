// GraphQL operations on accounts and sessions: each resolver makes one service call and shapes its answer.
import { Args, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import type { AuthService } from '../auth/auth.service';
import type { GraphQLContext } from './context';
import { CredentialsArgs, EmailArgs, PasswordResetRequestType, ResetPasswordArgs, UserType } from './types';

/** The Query and Mutation fields of the auth API. */
@Resolver()
export class AuthResolver {
  constructor(private readonly auth: AuthService) {}

  @Query(() => UserType, {
    nullable: true,
    description: 'The signed-in user, or null without a valid session.',
  })
  async profile(@Ctx() ctx: GraphQLContext): Promise<UserType | null> {
    return (await ctx.session())?.user ?? null;
  }

  @Mutation(() => UserType, { description: 'Creates an account. Errors: BAD_USER_INPUT, EMAIL_TAKEN.' })
  register(@Args(() => CredentialsArgs) { email, password }: CredentialsArgs): Promise<UserType> {
    return this.auth.registerUser(email, password);
  }

  @Mutation(() => UserType, {
    description:
      'Signs in and sets the session_id cookie, as POST /sessions does. Errors: INVALID_CREDENTIALS.',
  })
  async login(
    @Args(() => CredentialsArgs) { email, password }: CredentialsArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<UserType> {
    const session = await this.auth.login(email, password);
    ctx.startSession(session);
    return session.user;
  }

  @Mutation(() => Boolean, {
    description:
      'Ends the current session and clears the cookie: true if a session ended, false if there was none.',
  })
  logout(@Ctx() ctx: GraphQLContext): Promise<boolean> {
    return ctx.endSession();
  }

  @Mutation(() => PasswordResetRequestType, {
    description:
      'Issues a password reset token (returned here in development). Errors: EMAIL_NOT_REGISTERED.',
  })
  async requestPasswordReset(@Args(() => EmailArgs) { email }: EmailArgs): Promise<PasswordResetRequestType> {
    const grant = await this.auth.getResetPasswordToken(email);
    return { email: grant.email, resetToken: grant.resetToken };
  }

  @Mutation(() => Boolean, {
    description:
      'Sets a new password with a reset token and ends every session. Errors: INVALID_RESET_TOKEN.',
  })
  async resetPassword(
    @Args(() => ResetPasswordArgs) { email, resetToken, newPassword }: ResetPasswordArgs,
  ): Promise<boolean> {
    await this.auth.updatePassword(email, resetToken, newPassword);
    return true;
  }
}
