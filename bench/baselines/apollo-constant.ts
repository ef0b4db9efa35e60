// The ceiling Apollo sets for GraphQL `{ profile { email } }`: the same Fastify integration, a constant resolver.
import { ApolloServer } from '@apollo/server';
import fastifyApollo from '@as-integrations/fastify';
import Fastify from 'fastify';

const typeDefs = `#graphql
  type User {
    email: String!
  }
  type Query {
    profile: User
  }
`;

/** No database, no session, no logging: whatever this answers at is Apollo's and Fastify's own cost. */
const resolvers = { Query: { profile: () => ({ email: 'bench@example.com' }) } };

async function main(): Promise<void> {
  const apollo = new ApolloServer({ typeDefs, resolvers });
  await apollo.start();
  const app = Fastify({ logger: false });
  app.get('/healthz', () => ({ status: 'ok' }));
  await app.register(fastifyApollo(apollo), { path: '/graphql', method: ['GET', 'POST'] });
  await app.listen({ port: Number(process.env.PORT), host: process.env.HOST ?? '127.0.0.1' });
  process.on('SIGTERM', () => {
    void app
      .close()
      .then(() => apollo.stop())
      .then(() => process.exit(0));
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
