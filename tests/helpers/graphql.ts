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

export const REGISTER = `mutation Register($email: String!, $password: String!) {
  register(email: $email, password: $password) { id email createdAt }
}`;
export const LOGIN = `mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { id email createdAt }
}`;
export const PROFILE = `query Profile { profile { id email createdAt } }`;
export const LOGOUT = `mutation Logout { logout }`;
export const REQUEST_RESET = `mutation RequestReset($email: String!) {
  requestPasswordReset(email: $email) { email resetToken }
}`;
export const RESET = `mutation Reset($email: String!, $resetToken: String!, $newPassword: String!) {
  resetPassword(email: $email, resetToken: $resetToken, newPassword: $newPassword)
}`;
