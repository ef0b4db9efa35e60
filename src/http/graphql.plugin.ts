// Mounts Apollo Server on the Fastify instance at /graphql, with each request's context built from its session.
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import fastifyApollo from '@as-integrations/fastify';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import type { FastifyInstance } from 'fastify';
import type { GraphQLSchema } from 'graphql';
import type { GraphQLConfig } from '../config';
import { AuthError } from '../errors';
import { maxAuthMutationsRule } from '../graphql/auth-mutation-limit';
import type { GraphQLContext } from '../graphql/context';
import { classifyError, formatError } from '../graphql/format-error';
import { callerOf } from './caller';
import { errorForLog } from './logging';
import { registerPlayground } from './playground';
import type { HttpSessions } from './session-hook';

/** Settings of the GraphQL endpoint. */
export interface GraphQLEndpointOptions {
  readonly schema: GraphQLSchema;
  readonly sessions: HttpSessions;
  readonly limits: GraphQLConfig;
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
      willSendResponse({ contextValue, response }) {
        // As a REST 500 does, every internal error names the request, so an operator can find its log line.
        if (response.body.kind !== 'single') return Promise.resolve();
        for (const error of response.body.singleResult.errors ?? []) {
          if (error.extensions?.code !== 'INTERNAL_SERVER_ERROR') continue;
          Object.assign(error.extensions, { requestId: contextValue.requestId });
        }
        return Promise.resolve();
      },
    });
  },
};

/**
 * Starts Apollo Server and registers GET/POST /graphql, and the playground when it is on. Apollo's CSRF prevention
 * stays on: a browser can only reach us cross-site with a JSON content type or an Apollo header, both of which
 * force a CORS preflight.
 * Stopping follows Fastify's close (onClose), after Fastify has drained HTTP itself; the integration's drain
 * plugin is not used because it closes Fastify from inside Apollo's stop, which would run the close twice.
 */
export async function registerGraphQL(app: FastifyInstance, options: GraphQLEndpointOptions): Promise<void> {
  const { schema, sessions, limits } = options;
  // First, so that an unbuilt playground fails the start before Apollo is running.
  const playgroundPage = limits.playground
    ? registerPlayground(app, { introspection: limits.introspection })
    : null;
  // graphql-armor's validation rules bound what one document may ask for, before anything executes. Its token
  // limit is left to graphql-js's own parser option (below), which refuses as a parse error; armor's plugin
  // version of it throws from a plugin hook, which Apollo answers as a 500.
  const armor = new ApolloArmor({
    maxDepth: { n: limits.maxDepth },
    maxAliases: { n: limits.maxAliases },
    maxTokens: { enabled: false },
    // With introspection off, "Did you mean ...?" suggestions would still reveal the schema field by field.
    blockFieldSuggestion: { enabled: !limits.introspection },
  }).protect();
  const apollo = new ApolloServer<GraphQLContext>({
    schema,
    formatError,
    includeStacktraceInErrorResponses: false,
    introspection: limits.introspection,
    validationRules: [...armor.validationRules, maxAuthMutationsRule(limits.maxAuthMutations)],
    parseOptions: { maxTokens: limits.maxTokens },
    // One HTTP request, one operation: a batch would multiply every per-request limit by its length.
    allowBatchedHttpRequests: false,
    csrfPrevention: true,
    // Automatic persisted queries are on by default; nothing here uses them, so they are one less cache to fill.
    persistedQueries: false,
    // main.ts owns shutdown: Apollo's own signal handlers would stop it mid-drain and re-raise the signal.
    stopOnTerminationSignals: false,
    logger: app.log,
    plugins: [
      // Our own playground (playground.ts) replaces Apollo's landing page, which loads Apollo Sandbox from a CDN.
      // Without this plugin Apollo would serve that page in development.
      ApolloServerPluginLandingPageDisabled(),
      ...armor.plugins,
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
    // A browser opening /graphql gets the playground page; every other request, ?query= GETs included, goes on
    // to Apollo. Without the playground, the browser's GET is Apollo's too, which refuses it (no operation).
    if (playgroundPage !== null) scope.addHook('onRequest', playgroundPage);
    await scope.register(fastifyApollo(apollo), {
      path: '/graphql',
      method: ['GET', 'POST'],
      context: (request, reply) =>
        Promise.resolve({
          log: request.log,
          requestId: request.id,
          caller: callerOf(request),
          sessionToken: () => sessions.token(request),
          session: () => sessions.current(request, reply),
          startSession: (session) => sessions.started(reply, session),
          endSession: async () => {
            const ended = await sessions.end(request);
            sessions.clearCookie(reply);
            return ended;
          },
          clearSessionCookie: () => sessions.clearCookie(reply),
        }),
    });
  });
}
