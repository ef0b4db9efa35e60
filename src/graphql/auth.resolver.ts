// GraphQL operations on accounts and sessions: each resolver makes one service call and shapes its answer.
import { Args, Ctx, Int, Mutation, Query, Resolver } from 'type-graphql';
import { AuthError, valueOrThrow } from '../errors';
import type { AuthOperations, ValidSession } from '../operations';
import type { GraphQLContext } from './context';
import {
  ChangePasswordArgs,
  CredentialsArgs,
  EmailArgs,
  PasswordResetRequestType,
  ResetPasswordArgs,
  RevokeSessionArgs,
  SecurityEventType,
  SecurityEventsArgs,
  SessionInfoType,
  UserType,
} from './types';

/** Most security events one query may ask for. */
const SECURITY_EVENTS_MAX = 100;

/** The caller's session, or UNAUTHENTICATED: the operations below act on the signed-in user only. */
async function signedIn(ctx: GraphQLContext): Promise<ValidSession> {
  const session = await ctx.session();
  if (session === null) throw new AuthError('UNAUTHENTICATED');
  return session;
}

/**
 * The Query and Mutation fields of the auth API. Every abusable mutation goes through AuthOperations, once per
 * execution, so each alias in an operation is counted like a separate REST call.
 */
@Resolver()
export class AuthResolver {
  constructor(private readonly ops: AuthOperations) {}

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
  async register(
    @Args(() => CredentialsArgs) { email, password }: CredentialsArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<UserType> {
    return valueOrThrow(await this.ops.register(ctx.caller, email, password));
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
    const session = valueOrThrow(await this.ops.login(ctx.caller, email, password, ctx.sessionToken()));
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
    const grant = valueOrThrow(await this.ops.requestPasswordReset(ctx.caller, email));
    return { email: grant.email, resetToken: grant.resetToken };
  }

  @Mutation(() => Boolean, {
    description:
      'Sets a new password with a reset token and ends every session. ' +
      'Errors: BAD_USER_INPUT, INVALID_RESET_TOKEN, SERVICE_BUSY.',
  })
  async resetPassword(
    @Args(() => ResetPasswordArgs) { email, resetToken, newPassword }: ResetPasswordArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<boolean> {
    valueOrThrow(await this.ops.resetPassword(ctx.caller, email, resetToken, newPassword));
    return true;
  }

  @Query(() => [SessionInfoType], {
    description: "The signed-in user's live sessions, newest first. Errors: UNAUTHENTICATED.",
  })
  async sessions(@Ctx() ctx: GraphQLContext): Promise<SessionInfoType[]> {
    const session = await signedIn(ctx);
    const sessions = await this.ops.listSessions(session);
    return sessions.map((info) => ({
      id: info.publicId,
      createdAt: info.createdAt,
      lastSeenAt: info.lastSeenAt,
      expiresAt: info.expiresAt,
      userAgent: info.userAgent,
      ip: info.ip,
      current: info.sessionId === session.sessionId,
    }));
  }

  @Mutation(() => Boolean, {
    description:
      'Ends one of your own sessions by its id (from `sessions`): false, and nothing changes, for any other id. ' +
      'Errors: UNAUTHENTICATED.',
  })
  async revokeSession(
    @Args(() => RevokeSessionArgs) { id }: RevokeSessionArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<boolean> {
    return this.ops.revokeSession(ctx.caller, await signedIn(ctx), id);
  }

  @Mutation(() => Int, {
    description:
      'Ends every one of your sessions, this one included, and returns how many. Errors: UNAUTHENTICATED.',
  })
  async logoutEverywhere(@Ctx() ctx: GraphQLContext): Promise<number> {
    const ended = await this.ops.logoutEverywhere(ctx.caller, await signedIn(ctx));
    ctx.clearSessionCookie();
    return ended;
  }

  @Mutation(() => Boolean, {
    description:
      'Changes your password; every other session ends, this one stays. The current password is checked under ' +
      'the login limits. Errors: UNAUTHENTICATED, INVALID_CREDENTIALS, BAD_USER_INPUT, RATE_LIMITED, SERVICE_BUSY.',
  })
  async changePassword(
    @Args(() => ChangePasswordArgs) { currentPassword, newPassword }: ChangePasswordArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<boolean> {
    valueOrThrow(
      await this.ops.changePassword(ctx.caller, await signedIn(ctx), currentPassword, newPassword),
    );
    return true;
  }

  @Query(() => [SecurityEventType], {
    description:
      "The signed-in user's own security events, newest first. Errors: UNAUTHENTICATED, BAD_USER_INPUT.",
  })
  async securityEvents(
    @Args(() => SecurityEventsArgs) { limit }: SecurityEventsArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<SecurityEventType[]> {
    if (limit < 1 || limit > SECURITY_EVENTS_MAX) {
      throw new AuthError('BAD_USER_INPUT', `limit must be between 1 and ${SECURITY_EVENTS_MAX}`);
    }
    const events = await this.ops.securityEvents(await signedIn(ctx), limit);
    return events.map(({ id, createdAt, type, email, ip, userAgent, reason, count }) => ({
      id,
      createdAt,
      type,
      email,
      ip,
      userAgent,
      reason,
      count,
    }));
  }
}
