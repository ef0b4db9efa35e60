// The Apollo Client example's command line: runs the demo against a server URL and exits 1 on anything unexpected.
import { randomBytes } from 'node:crypto';
import { CombinedGraphQLErrors } from '@apollo/client';
import { runDemo } from './client';

/** Where `npm start` serves the API with its default PORT and HOST. */
const DEFAULT_URL = 'http://localhost:5000/graphql';

/** One line of the error, with the server's error codes when it refused an operation. */
function describe(error: unknown): string {
  if (CombinedGraphQLErrors.is(error)) {
    return error.errors
      .map((graphQLError) => `${String(graphQLError.extensions?.code)}: ${graphQLError.message}`)
      .join('; ');
  }
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** Runs the demo and sets the exit code: 0 when every step answered as expected, 1 otherwise. */
async function main(): Promise<void> {
  const url = process.argv[2] ?? process.env.GRAPHQL_URL ?? DEFAULT_URL;
  // A fresh account on every run, so the demo can be run again against the same database.
  const email =
    process.env.DEMO_EMAIL ?? `apollo-demo-${Date.now()}-${randomBytes(3).toString('hex')}@example.com`;
  // Random, so it passes the server's common-password and contains-the-email checks.
  const password = process.env.DEMO_PASSWORD ?? randomBytes(12).toString('base64url');
  process.stdout.write(`server: ${url}\n`);
  try {
    await runDemo(url, email, password, (line) => process.stdout.write(`${line}\n`));
    process.stdout.write('ok\n');
  } catch (error) {
    console.error(`failed: ${describe(error)}`);
    process.exitCode = 1;
  }
}

void main();
