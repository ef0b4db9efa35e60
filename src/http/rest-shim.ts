// The exercise's REST API, kept byte-for-byte for curl users: each route makes one service call and shapes its answer.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AuthError, valueOrThrow } from '../errors';
import type { AuthOperations } from '../operations';
import { callerOf } from './caller';
import type { HttpSessions } from './session-hook';

/**
 * A required string field of a form or JSON body. Forms repeat a key as an array and JSON can send any type,
 * so anything but one string is refused with a message naming the field.
 */
function stringField(request: FastifyRequest, name: string): string {
  const body: unknown = request.body;
  const value =
    typeof body === 'object' && body !== null && !Array.isArray(body)
      ? (body as Record<string, unknown>)[name]
      : undefined;
  if (value === undefined || value === null) throw new AuthError('BAD_USER_INPUT', `${name} is required`);
  if (typeof value !== 'string') throw new AuthError('BAD_USER_INPUT', `${name} must be a single string`);
  return value;
}

/** Registers the REST routes: GET /, POST /users, POST|DELETE /sessions, GET /profile, POST|PUT /reset_password. */
export function registerRestShim(app: FastifyInstance, ops: AuthOperations, sessions: HttpSessions): void {
  app.get('/', () => ({ message: 'Bienvenue' }));

  app.post('/users', async (request) => {
    const email = stringField(request, 'email');
    const password = stringField(request, 'password');
    const user = valueOrThrow(await ops.register(callerOf(request), email, password));
    return { email: user.email, message: 'user created' };
  });

  app.post('/sessions', async (request, reply) => {
    const email = stringField(request, 'email');
    const password = stringField(request, 'password');
    const session = valueOrThrow(
      await ops.login(callerOf(request), email, password, sessions.token(request)),
    );
    sessions.started(reply, session);
    return { email: session.user.email, message: 'logged in' };
  });

  app.delete('/sessions', async (request, reply) => {
    if (!(await sessions.end(request))) throw new AuthError('UNAUTHENTICATED');
    sessions.clearCookie(reply);
    return reply.redirect('/', 302);
  });

  app.get('/profile', async (request, reply) => {
    const session = await sessions.current(request, reply);
    if (session === null) throw new AuthError('UNAUTHENTICATED');
    return { email: session.user.email };
  });

  app.post('/reset_password', async (request) => {
    const grant = valueOrThrow(
      await ops.requestPasswordReset(callerOf(request), stringField(request, 'email')),
    );
    // RESET_TOKEN_DELIVERY=response is the exercise's development behaviour: the token goes back in the answer.
    // By email, the answer is the same whether or not the email has an account.
    if (grant.resetToken === null) return { email: grant.email, message: 'reset email sent' };
    return { email: grant.email, reset_token: grant.resetToken };
  });

  app.put('/reset_password', async (request) => {
    const email = stringField(request, 'email');
    const resetToken = stringField(request, 'reset_token');
    const newPassword = stringField(request, 'new_password');
    const user = valueOrThrow(await ops.resetPassword(callerOf(request), email, resetToken, newPassword));
    return { email: user.email, message: 'Password updated' };
  });
}
