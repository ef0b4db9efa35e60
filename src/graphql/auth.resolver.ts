// GraphQL operations on accounts and sessions: each resolver makes one service call and shapes its answer.
import { Args, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import type { AuthGate } from '../auth/auth-gate';
import type { GraphQLContext } from './context';
import { CredentialsArgs, EmailArgs, PasswordResetRequestType, ResetPasswordArgs, UserType } from './types';

/**
 * The Query and Mutation fields of the auth API. Every abusable mutation goes through the AuthGate, once per
 * execution, so each alias in an operation is counted like a separate REST call.
 */
@Resolver()
export class AuthResolver {
  constructor(private readonly gate: AuthGate) {}

  @Query(() => UserType, {
    nullable: true,
    description: 'The signed-in user, or null without a valid session.',
  })
  async profile(@Ctx() ctx: GraphQLContext): Promise<UserType | null> {
    return (await ctx.session())?.user ?? null;
  }

  @Mutation(() => UserType, {
    description: 'Creates an account. Errors: BAD_USER_INPUT, EMAIL_TAKEN, RATE_LIMITED, SERVICE_BUSY.',
  })
  register(
    @Args(() => CredentialsArgs) { email, password }: CredentialsArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<UserType> {
    return this.gate.register(ctx.caller, email, password);
  }

  @Mutation(() => UserType, {
    description:
      'Signs in and sets the session_id cookie, as POST /sessions does. ' +
      'Errors: INVALID_CREDENTIALS, RATE_LIMITED, SERVICE_BUSY.',
  })
  async login(
    @Args(() => CredentialsArgs) { email, password }: CredentialsArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<UserType> {
    const session = await this.gate.login(ctx.caller, email, password);
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
      'Issues a password reset token (returned here in development). ' +
      'Errors: BAD_USER_INPUT, EMAIL_NOT_REGISTERED, RATE_LIMITED.',
  })
  async requestPasswordReset(
    @Args(() => EmailArgs) { email }: EmailArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<PasswordResetRequestType> {
    const grant = await this.gate.requestPasswordReset(ctx.caller, email);
    return { email: grant.email, resetToken: grant.resetToken };
  }

  @Mutation(() => Boolean, {
    description:
      'Sets a new password with a reset token and ends every session. ' +
      'Errors: BAD_USER_INPUT, INVALID_RESET_TOKEN, SERVICE_BUSY.',
  })
  async resetPassword(
    @Args(() => ResetPasswordArgs) { email, resetToken, newPassword }: ResetPasswordArgs,
  ): Promise<boolean> {
    await this.gate.resetPassword(email, resetToken, newPassword);
    return true;
  }
}
