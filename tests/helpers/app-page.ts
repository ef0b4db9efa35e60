// A stand-in single-page app for the browser tests: one page whose script calls the API, served from any origin.
import { createServer, type Server } from 'node:http';

/** What one call from a page observed: the API's answer, or the error fetch rejected with. */
export type Outcome = { status: number; body: unknown } | { error: string };

/** The page script's functions, as the tests call them through page.evaluate. */
export interface AppWindow {
  callApi(api: string, query: string, variables?: Record<string, string>): Promise<Outcome>;
  postSimple(api: string, query: string): Promise<{ type: string } | { error: string }>;
}

/**
 * The one page each app origin serves. Its inline script is what a cross-origin single-page app does: a JSON
 * POST to the API with `credentials: 'include'`, so the browser sends and stores the session cookie. JSON is
 * not a "simple" content type, so the browser asks the API first (a CORS preflight) and sends the request only
 * if the API's answer allows this origin. `postSimple` is the other thing a hostile page can try: a no-cors
 * text/plain POST, which needs no preflight but whose answer the page cannot read. The icon link keeps Chromium
 * from asking for /favicon.ico, whose 404 would show in the console the tests read.
 */
export const APP_PAGE = `<!doctype html>
<html>
  <head><meta charset="utf-8"><title>app</title><link rel="icon" href="data:,"></head>
  <body>
    <script>
      globalThis.callApi = async (api, query, variables) => {
        try {
          const response = await fetch(api + '/graphql', {
            method: 'POST',
            credentials: 'include',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ query, variables }),
          });
          return { status: response.status, body: await response.json() };
        } catch (error) {
          return { error: String(error) };
        }
      };
      globalThis.postSimple = async (api, query) => {
        try {
          const response = await fetch(api + '/graphql', {
            method: 'POST',
            mode: 'no-cors',
            credentials: 'include',
            headers: { 'content-type': 'text/plain' },
            body: JSON.stringify({ query }),
          });
          return { type: response.type };
        } catch (error) {
          return { error: String(error) };
        }
      };
    </script>
  </body>
</html>
`;

/** A static server for APP_PAGE on a free loopback port, and the origin it serves. */
export interface AppServer {
  readonly server: Server;
  readonly origin: string;
}

/** Serves APP_PAGE at `/` (404 for anything else, such as the favicon) on `host`. */
export async function startAppServer(host = '127.0.0.1'): Promise<AppServer> {
  const server = createServer((request, response) => {
    if (request.method === 'GET' && request.url === '/') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(APP_PAGE);
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('app server has no port');
  return { server, origin: `http://${host}:${address.port}` };
}
