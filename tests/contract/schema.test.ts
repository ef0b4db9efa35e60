// Schema drift: the committed schema.graphql is what the resolvers build, and it is the API the spec fixes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isObjectType, type GraphQLSchema } from 'graphql';
import { buildAuthSchema, printAuthSchema } from '../../src/graphql/schema';

const SCHEMA_FILE = join(__dirname, '..', '..', 'schema.graphql');
const REGENERATE_HINT =
  'schema.graphql does not match the type-graphql resolvers: run `npm run schema:emit` and commit the file';

let schema: GraphQLSchema;
let committed: string;
beforeAll(async () => {
  schema = await buildAuthSchema(null);
  committed = readFileSync(SCHEMA_FILE, 'utf8');
});

describe('schema.graphql', () => {
  it('equals the schema the resolvers build (run `npm run schema:emit` when it drifts)', () => {
    try {
      expect(committed).toBe(printAuthSchema(schema));
    } catch (error) {
      // Put the remedy above jest's diff, where the developer looks first.
      if (error instanceof Error) error.message = `${REGENERATE_HINT}\n\n${error.message}`;
      throw error;
    }
  });

  it.each([
    'type User {',
    '  id: ID!',
    '  email: String!',
    '  createdAt: DateTimeISO!',
    'type PasswordResetRequest {',
    '  resetToken: String',
    'type Query {',
    '  profile: User',
    'type Mutation {',
    '  register(email: String!, password: String!): User!',
    '  login(email: String!, password: String!): User!',
    '  logout: Boolean!',
    '  requestPasswordReset(email: String!): PasswordResetRequest!',
    '  resetPassword(email: String!, resetToken: String!, newPassword: String!): Boolean!',
  ])('contains the line %j from the spec', (line) => {
    expect(committed.split('\n')).toContain(line);
  });

  it('gives User exactly the fields id, email and createdAt', () => {
    const user = schema.getType('User');
    if (!isObjectType(user)) throw new Error('User is not an object type');
    expect(Object.keys(user.getFields())).toEqual(['id', 'email', 'createdAt']);
  });

  it('never exposes a password, hash, token or session on User', () => {
    const user = schema.getType('User');
    if (!isObjectType(user)) throw new Error('User is not an object type');
    const leaking = Object.keys(user.getFields()).filter((name) => /password|hash|token|session/i.test(name));
    expect(leaking).toEqual([]);
  });

  it('gives PasswordResetRequest exactly email and resetToken', () => {
    const request = schema.getType('PasswordResetRequest');
    if (!isObjectType(request)) throw new Error('PasswordResetRequest is not an object type');
    expect(Object.keys(request.getFields())).toEqual(['email', 'resetToken']);
  });
});
