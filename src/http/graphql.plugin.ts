// Mounts Apollo Server on the Fastify instance at /graphql, with each request's context built from its session.
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import {
  ApolloServerPluginLandingPageLocalDefault,
  ApolloServerPluginLandingPageProductionDefault,
} from '@apollo/server/plugin/landingPage/default';
import fastifyApollo from '@as-integrations/fastify';
import type { FastifyInstance } from 'fastify';
import type { GraphQLSchema } from 'graphql';
import { AuthError } from '../errors';
import type { GraphQLContext } from '../graphql/context';
import { classifyError, formatError } from '../graphql/format-error';
import { errorForLog } from './logging';
import type { HttpSessions } from './session-hook';

/** Settings of the GraphQL endpoint. */
export interface GraphQLEndpointOptions {
  readonly schema: GraphQLSchema;
  readonly sessions: HttpSessions;
  /** Production turns introspection off and the landing page into a plain notice. */
  readonly production: boolean;
}

/**
 * Logs the errors that are ours (bugs, faults) under the request's id, scrubbed of secrets. Client errors are
 * not logged at all: they are the caller's, and graphql-js quotes the offending values in them, which may be
 * passwords.
 */
const logInternalErrors: ApolloServerPlugin<GraphQLContext> = {
  requestDidStart() {
    return Promise.resolve({
      didEncounterErrors({ contextValue, errors }) {
        for (const error of errors) {
          if (classifyError(error) !== 'internal') continue;
          contextValue.log.error(
            { error: errorForLog(error.originalError ?? error) },
            'graphql operation failed',
          );
        }
        return Promise.resolve();
      },
    });
  },
};

/**
 * Starts Apollo Server and registers GET/POST /graphql. Apollo's CSRF prevention stays on: a browser can only
 * reach us cross-site with a JSON content type or an Apollo header, both of which force a CORS preflight.
 * Stopping follows Fastify's close (onClose), after Fastify has drained HTTP itself; the integration's drain
 * plugin is not used because it closes Fastify from inside Apollo's stop, which would run the close twice.
 */
export async function registerGraphQL(app: FastifyInstance, options: GraphQLEndpointOptions): Promise<void> {
  const { schema, sessions, production } = options;
  const apollo = new ApolloServer<GraphQLContext>({
    schema,
    formatError,
    includeStacktraceInErrorResponses: false,
    introspection: !production,
    csrfPrevention: true,
    // Automatic persisted queries are on by default; nothing here uses them, so they are one less cache to fill.
    persistedQueries: false,
    // main.ts owns shutdown: Apollo's own signal handlers would stop it mid-drain and re-raise the signal.
    stopOnTerminationSignals: false,
    logger: app.log,
    plugins: [
      production
        ? ApolloServerPluginLandingPageProductionDefault()
        : ApolloServerPluginLandingPageLocalDefault(),
      logInternalErrors,
    ],
  });
  await apollo.start();
  app.addHook('onClose', async () => {
    await apollo.stop();
  });

  // The integration builds a URL from the Host header, which throws on a malformed one; refuse those first, in a
  // scope holding only the GraphQL route, so they get a 400 instead of a 500 and no other route pays for the check.
  await app.register(async (scope) => {
    scope.addHook('onRequest', (request, _reply, done) => {
      const hostIsValid = URL.canParse(`http://${request.hostname}/`);
      done(hostIsValid ? undefined : new AuthError('BAD_USER_INPUT', 'malformed Host header'));
    });
    await scope.register(fastifyApollo(apollo), {
      path: '/graphql',
      method: ['GET', 'POST'],
      context: (request, reply) =>
        Promise.resolve({
          log: request.log,
          session: () => sessions.current(request, reply),
          startSession: (session) => sessions.started(reply, session),
          endSession: async () => {
            const ended = await sessions.end(request);
            sessions.clearCookie(reply);
            return ended;
          },
        }),
    });
  });
}
