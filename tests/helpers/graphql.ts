// GraphQL helper: POST /graphql as Apollo Client does (JSON), carrying the session cookie both ways.
import type { LightMyRequestResponse } from 'fastify';
import type { App } from '../../src/app';

/** One GraphQL error as the server formats it. */
export interface GraphQLErrorBody {
  message: string;
  path?: string[];
  extensions?: { code?: string; [key: string]: unknown };
}

/** A parsed GraphQL answer plus the raw response (status, headers). */
export interface GraphQLAnswer<T> {
  readonly response: LightMyRequestResponse;
  readonly data: T | null | undefined;
  readonly errors: GraphQLErrorBody[] | undefined;
}

/** Runs one operation against the real app. */
export async function graphql<T = Record<string, unknown>>(
  app: App,
  query: string,
  variables: Record<string, unknown> = {},
  cookie?: string,
): Promise<GraphQLAnswer<T>> {
  const response = await app.server.inject({
    method: 'POST',
    url: '/graphql',
    payload: JSON.stringify({ query, variables }),
    headers: { 'content-type': 'application/json', ...(cookie === undefined ? {} : { cookie }) },
  });
  const body = response.json<{ data?: T | null; errors?: GraphQLErrorBody[] }>();
  return { response, data: body.data, errors: body.errors };
}

/** The `extensions.code` of each error, in order. */
export function errorCodes(answer: GraphQLAnswer<unknown>): (string | undefined)[] {
  return (answer.errors ?? []).map((error) => error.extensions?.code);
}

/** The register mutation with variables $email and $password. */
export const REGISTER = `mutation Register($email: String!, $password: String!) {
  register(email: $email, password: $password) { id email createdAt }
}`;
/** The login mutation with variables $email and $password. */
export const LOGIN = `mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { id email createdAt }
}`;
/** The profile query. */
export const PROFILE = `query Profile { profile { id email createdAt } }`;
/** The logout mutation. */
export const LOGOUT = `mutation Logout { logout }`;
/** The requestPasswordReset mutation with variable $email. */
export const REQUEST_RESET = `mutation RequestReset($email: String!) {
  requestPasswordReset(email: $email) { email resetToken }
}`;
/** The resetPassword mutation with variables $email, $resetToken and $newPassword. */
export const RESET = `mutation Reset($email: String!, $resetToken: String!, $newPassword: String!) {
  resetPassword(email: $email, resetToken: $resetToken, newPassword: $newPassword)
}`;
