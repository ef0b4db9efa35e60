/// <reference lib="dom" />
// The playground's browser entry: GraphiQL on the page's #playground element, talking to /graphql on this origin.
import { GraphiQL, type GraphiQLProps } from 'graphiql';
import type { ExecutionResult } from 'graphql';
// Bundled into app.css by scripts/build-playground.mjs; its fonts are inlined as data: URIs, so nothing is
// fetched from a font CDN.
import 'graphiql/style.css';
import './page.css';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { DEFAULT_TABS } from './operations';

/** The API, on the page's own origin: the CSP's connect-src 'self' allows nothing else. */
const ENDPOINT = '/graphql';

type Fetcher = GraphiQLProps['fetcher'];

/**
 * Sends each operation as a JSON POST. The JSON content type is what Apollo's CSRF prevention requires (a
 * cross-site form cannot send it without a CORS preflight, which we refuse). `credentials: 'same-origin'`
 * sends the HttpOnly session cookie to this origin only, and lets the browser store the one `login` sets.
 */
const fetcher: Fetcher = async (params, options): Promise<ExecutionResult> => {
  const response = await fetch(ENDPOINT, {
    method: 'POST',
    credentials: 'same-origin',
    headers: {
      ...options?.headers,
      accept: 'application/graphql-response+json, application/json',
      'content-type': 'application/json',
    },
    body: JSON.stringify(params),
  });
  // Every answer of /graphql is JSON, errors included (400, 429, 503): GraphiQL shows it as it came.
  return (await response.json()) as ExecutionResult;
};

const root = document.getElementById('playground');
if (root === null) throw new Error('the page has no #playground element');
// The server says whether introspection is on; without it GraphiQL's schema fetch could only fail, so it is skipped
// (no autocompletion or docs then, but the editors still run operations).
const introspection = root.dataset.introspection !== 'false';

// Where GraphiQL keeps tabs and history. Tabs hold what was typed in the variables editor, passwords included:
// sessionStorage forgets them when the browser tab closes, where GraphiQL's default (localStorage) keeps them on disk.
const storage = window.sessionStorage;
// GraphiQL 4.1 opens its first default tab without that tab's variables (it reads them from storage only), so on a
// first visit (nothing stored yet) they are passed explicitly. Later visits restore the stored tabs as they were.
const firstTabVariables = storage.length === 0 ? (DEFAULT_TABS[0]?.variables ?? undefined) : undefined;

createRoot(root).render(
  <StrictMode>
    <GraphiQL
      fetcher={fetcher}
      defaultTabs={DEFAULT_TABS}
      defaultEditorToolsVisibility="variables"
      {...(introspection ? {} : { schema: null })}
      {...(firstTabVariables === undefined ? {} : { variables: firstTabVariables })}
      storage={storage}
    />
  </StrictMode>,
);
