// Builds the executable GraphQL schema from the type-graphql resolvers, and prints it for schema.graphql.
import { printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { AuthResolver } from './auth.resolver';

/** The header of the committed schema.graphql. */
export const SCHEMA_FILE_HEADER =
  '# Generated from the type-graphql resolvers by `npm run schema:emit`. Do not edit.\n\n';

/**
 * Builds the schema with resolvers that already hold their dependencies. type-graphql asks its container for
 * each resolver class; a plain `{ get }` answering with our instance is all the container we need.
 * Pass null to build a schema only for printing (executing an operation on it fails).
 */
export function buildAuthSchema(resolver: AuthResolver | null): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: [AuthResolver],
    container: {
      get: (someClass: unknown) => {
        if (someClass === AuthResolver && resolver !== null) return resolver;
        throw new Error('no resolver instance for this class');
      },
    },
    // Inputs are checked by the service's own policy, the same for both transports, not by class-validator.
    validate: false,
  });
}

/** The SDL as committed in schema.graphql (declaration order, as docs/graphql.md documents it). */
export function printAuthSchema(schema: GraphQLSchema): string {
  return SCHEMA_FILE_HEADER + printSchema(schema) + '\n';
}
