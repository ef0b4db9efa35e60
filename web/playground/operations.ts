// The documents the playground opens with: one tab per main operation of the API, with example variables.
import type { GraphiQLProps } from 'graphiql';

/** One tab's editors: query, variables, headers (graphiql does not export the type by name). */
type TabDefinition = NonNullable<GraphiQLProps['defaultTabs']>[number];

/** Example credentials, the same as the README's curl examples, so both walkthroughs meet the same account. */
// Not the REST walkthrough's test@example.com, whose password that walkthrough resets: each has its own account.
const EXAMPLE_EMAIL = 'playground@example.com';
const EXAMPLE_PASSWORD = 'mySecurePassword';

/** Variables as the variables editor shows them: indented JSON. */
function variables(values: Readonly<Record<string, string>>): string {
  return JSON.stringify(values, null, 2);
}

const REGISTER = `# Creates an account. It does not sign in:
# run Login next.
mutation Register($email: String!, $password: String!) {
  register(email: $email, password: $password) {
    id
    email
    createdAt
  }
}
`;

const LOGIN = `# Signs in. The answer sets the session_id cookie:
# HttpOnly, so this page never sees it, but the
# browser sends it with every later request.
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) {
    id
    email
  }
}
`;

const PROFILE = `# The signed-in user, or null without a valid
# session.
query Profile {
  profile {
    id
    email
    createdAt
  }
}
`;

const LOGOUT = `# Ends this session and clears the cookie;
# false if there was none.
mutation Logout {
  logout
}
`;

const RESET_PASSWORD = `# Two steps: run RequestReset, copy its resetToken
# into the variables, then run Reset. (resetToken is
# null when tokens go by email.)
mutation RequestReset($email: String!) {
  requestPasswordReset(email: $email) {
    email
    resetToken
  }
}

# Single use, valid for an hour; ends every
# session of the account.
mutation Reset($email: String!, $resetToken: String!, $newPassword: String!) {
  resetPassword(email: $email, resetToken: $resetToken, newPassword: $newPassword)
}
`;

/** The tabs a first visit opens with, in the order a newcomer walks through them. */
export const DEFAULT_TABS: TabDefinition[] = [
  { query: REGISTER, variables: variables({ email: EXAMPLE_EMAIL, password: EXAMPLE_PASSWORD }) },
  { query: LOGIN, variables: variables({ email: EXAMPLE_EMAIL, password: EXAMPLE_PASSWORD }) },
  { query: PROFILE },
  { query: LOGOUT },
  {
    query: RESET_PASSWORD,
    variables: variables({
      email: EXAMPLE_EMAIL,
      resetToken: 'paste the resetToken from RequestReset',
      newPassword: 'myNewSecurePassword',
    }),
  },
];
