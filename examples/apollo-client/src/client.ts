// The Apollo Client demo: register, log in, read the profile and log out against the API, checking every answer.
import { ApolloClient, HttpLink, InMemoryCache, gql, type TypedDocumentNode } from '@apollo/client';
import { CookieJar } from './cookie-jar';

/** The fields of a `User` the demo reads. */
export interface DemoUser {
  readonly id: string;
  readonly email: string;
}

/** What each step of the demo observed; runDemo has already checked every value against what it expects. */
export interface DemoResult {
  /** The `register` answer. */
  readonly registered: DemoUser;
  /** `profile` before logging in: null, since registering does not sign in. */
  readonly profileBeforeLogin: DemoUser | null;
  /** The `login` answer. */
  readonly loggedIn: DemoUser;
  /** Names of the cookies the jar held after `login`: `['session_id']`. */
  readonly cookiesAfterLogin: readonly string[];
  /** `profile` with the session cookie. */
  readonly profile: DemoUser | null;
  /** The `logout` answer: true when a session ended. */
  readonly loggedOut: boolean;
  /** Names of the cookies the jar held after `logout`, which clears the cookie: `[]`. */
  readonly cookiesAfterLogout: readonly string[];
  /** `profile` after logging out: null. */
  readonly profileAfterLogout: DemoUser | null;
}

/** Thrown when a step's answer is not the expected one; the message names the step and both values. */
export class DemoFailure extends Error {
  override readonly name = 'DemoFailure';
}

/** Credentials as the API's `register` and `login` take them. */
interface Credentials {
  email: string;
  password: string;
}

const REGISTER: TypedDocumentNode<{ register: DemoUser }, Credentials> = gql`
  mutation Register($email: String!, $password: String!) {
    register(email: $email, password: $password) {
      id
      email
    }
  }
`;

const LOGIN: TypedDocumentNode<{ login: DemoUser }, Credentials> = gql`
  mutation Login($email: String!, $password: String!) {
    login(email: $email, password: $password) {
      id
      email
    }
  }
`;

const PROFILE: TypedDocumentNode<{ profile: DemoUser | null }, Record<string, never>> = gql`
  query Profile {
    profile {
      id
      email
    }
  }
`;

const LOGOUT: TypedDocumentNode<{ logout: boolean }, Record<string, never>> = gql`
  mutation Logout {
    logout
  }
`;

/**
 * An Apollo Client for the API at `url` that carries the session cookie through `jar`.
 *
 * In a browser there is no jar to pass: the browser keeps the HttpOnly session cookie itself, and HttpLink's
 * `credentials` option tells fetch to send and store it. Use `credentials: 'include'` when the app is served
 * from another origin than the API (that origin must be listed in the server's `CORS_ORIGINS`), or
 * `'same-origin'` when both are served from one origin. Node's fetch ignores `credentials` and keeps no cookies,
 * hence the jar's fetch wrapper here.
 */
export function createClient(url: string, jar: CookieJar): ApolloClient {
  return new ApolloClient({
    link: new HttpLink({ uri: url, fetch: jar.fetch }),
    cache: new InMemoryCache(),
  });
}

/** The `id` and `email` of a user as Apollo returns it (with `__typename`), or null. */
function pick(user: DemoUser | null): DemoUser | null {
  return user === null ? null : { id: user.id, email: user.email };
}

/**
 * An operation's data. Apollo's types allow undefined (an `errorPolicy` of 'all' or 'ignore' could leave it
 * out); with the default policy used here an error throws instead, so undefined would be a surprise.
 */
function dataOf<T>(step: string, result: { readonly data: T | undefined }): T {
  if (result.data === undefined) throw new DemoFailure(`${step}: the answer has no data`);
  return result.data;
}

/** Throws a DemoFailure unless `actual` equals `expected` (compared as JSON: plain data only). */
function check<T>(step: string, actual: T, expected: T): T {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    throw new DemoFailure(`${step}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
  return actual;
}

/**
 * Registers `email`, reads the profile (null), logs in, reads the profile (the user), logs out and reads the
 * profile again (null), calling `log` with one line per step. Throws a DemoFailure on any unexpected answer, and
 * Apollo's error (CombinedGraphQLErrors, with the server's `extensions.code`) when the server refuses a step.
 */
export async function runDemo(
  url: string,
  email: string,
  password: string,
  log: (line: string) => void = () => undefined,
): Promise<DemoResult> {
  const jar = new CookieJar();
  const client = createClient(url, jar);
  // The server stores emails trimmed and lower-cased, and answers with the stored form.
  const storedEmail = email.trim().toLowerCase();
  try {
    const register = dataOf(
      'register',
      await client.mutate({ mutation: REGISTER, variables: { email, password } }),
    );
    const registered = { id: register.register.id, email: register.register.email };
    check('register email', registered.email, storedEmail);
    log(`register: created user ${registered.id} (${registered.email})`);

    // 'network-only' on every profile read: the answer must come from the server, not from what the cache held
    // before login or logout ('no-cache' would do as well, without keeping the answer).
    const readProfile = async (step: string): Promise<DemoUser | null> =>
      pick(dataOf(step, await client.query({ query: PROFILE, fetchPolicy: 'network-only' })).profile);

    const profileBeforeLogin = check('profile before login', await readProfile('profile before login'), null);
    log('profile before login: null');

    const login = dataOf('login', await client.mutate({ mutation: LOGIN, variables: { email, password } }));
    const loggedIn = check('login', { id: login.login.id, email: login.login.email }, registered);
    const cookiesAfterLogin = check('cookies after login', jar.names(), ['session_id']);
    log(`login: signed in as ${loggedIn.email}; cookies held: ${cookiesAfterLogin.join(', ')}`);

    const profile = check<DemoUser | null>('profile', await readProfile('profile'), registered);
    log(`profile: ${profile?.email}`);

    const loggedOut = check(
      'logout',
      dataOf('logout', await client.mutate({ mutation: LOGOUT })).logout,
      true,
    );
    const cookiesAfterLogout = check('cookies after logout', jar.names(), []);
    log(`logout: ${loggedOut}; cookies held: none`);

    const profileAfterLogout = check('profile after logout', await readProfile('profile after logout'), null);
    log('profile after logout: null');

    return {
      registered,
      profileBeforeLogin,
      loggedIn,
      cookiesAfterLogin,
      profile,
      loggedOut,
      cookiesAfterLogout,
      profileAfterLogout,
    };
  } finally {
    client.stop();
  }
}
