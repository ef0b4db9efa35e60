/// <reference lib="dom" />
// The GraphQL playground in real Chromium against the built server: the session flow through GraphiQL's editors.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser';
import { startServer, type ServerProcess } from '../helpers/server-process';

/** Where screenshots go (git-ignored); docs/playground.png is a copy of a good one, for docs/graphql.md. */
const ARTIFACTS = join(__dirname, 'artifacts');

const EMAIL = 'playground@example.com';
const PASSWORD = 'lantern quiet harbour 42';

/** What CodeMirror 5 hangs on its wrapper element; GraphiQL adds the operation it would run to the query editor. */
interface CodeMirrorElement extends Element {
  CodeMirror?: { getValue(): string; operationName?: string | null };
}

const QUERY_EDITOR = 'section[aria-label="Query Editor"] .CodeMirror';
const VARIABLES_EDITOR = 'section[aria-label="Variables"] .graphiql-editor:not(.hidden) .CodeMirror';
const RESULT = '.graphiql-response .CodeMirror';

/** A GraphQL answer as the result pane shows it. */
interface Answer {
  data?: Record<string, unknown>;
  errors?: unknown[];
}

/** What a page did that a test asserts on: every request, failed request and console error. */
interface PageRecord {
  readonly requests: { url: string; method: string; contentType: string | undefined }[];
  readonly failures: string[];
  readonly consoleErrors: string[];
}

/** Records every request, failure and console error (CSP violations are reported there) of `context`. */
function record(context: BrowserContext, page: Page): PageRecord {
  const log: PageRecord = { requests: [], failures: [], consoleErrors: [] };
  context.on('request', (request) =>
    log.requests.push({
      url: request.url(),
      method: request.method(),
      contentType: request.headers()['content-type'],
    }),
  );
  context.on('requestfailed', (request) =>
    log.failures.push(`${request.url()}: ${request.failure()?.errorText}`),
  );
  page.on('console', (message) => {
    if (message.type() === 'error') log.consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => log.consoleErrors.push(error.message));
  return log;
}

/** Opens the playground and waits until GraphiQL has rendered its editors. */
async function openPlayground(page: Page, baseUrl: string): Promise<void> {
  const response = await page.goto(`${baseUrl}/graphql`);
  expect(response?.status()).toBe(200);
  await page.waitForSelector(QUERY_EDITOR);
  await page.waitForSelector('.graphiql-execute-button');
}

/**
 * Switches to the default tab of `operation`, and waits until GraphiQL has parsed its document: it reads the
 * operation to run from the editor after a 100 ms debounce, so a run clicked sooner would send the previous tab's.
 */
async function openTab(page: Page, operation: string): Promise<void> {
  await page.click(`.graphiql-tab-button[title="${operation}"]`);
  await page.waitForFunction(
    ({ selector, name }) =>
      document.querySelector<CodeMirrorElement>(selector)?.CodeMirror?.operationName === name,
    { selector: QUERY_EDITOR, name: operation },
  );
}

/** Replaces the variables editor's contents, as a user would: click into it, select all, type. */
async function typeVariables(page: Page, variables: Record<string, string>): Promise<void> {
  await page.click(VARIABLES_EDITOR);
  await page.keyboard.press('Control+A');
  await page.keyboard.insertText(JSON.stringify(variables));
  const typed = await page.evaluate(
    (selector) => document.querySelector<CodeMirrorElement>(selector)?.CodeMirror?.getValue(),
    VARIABLES_EDITOR,
  );
  expect(JSON.parse(typed ?? '')).toEqual(variables);
}

/** Clicks the run button and returns the answer the result pane shows once it holds `field` (or errors). */
async function run(page: Page, field: string): Promise<Answer> {
  await page.click('.graphiql-execute-button');
  const shown = await page.waitForFunction(
    ({ selector, key }) => {
      const text = document.querySelector<CodeMirrorElement>(selector)?.CodeMirror?.getValue() ?? '';
      try {
        const answer = JSON.parse(text) as Answer;
        return answer.errors !== undefined || (answer.data !== undefined && key in answer.data)
          ? text
          : false;
      } catch {
        return false;
      }
    },
    { selector: RESULT, key: field },
  );
  // waitForFunction resolves only on a truthy value: the text.
  return JSON.parse(String(await shown.jsonValue())) as Answer;
}

describe('the GraphQL playground in Chromium', () => {
  let directory: string;
  let server: ServerProcess;
  let browser: Browser;

  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), 'playground-test-'));
    mkdirSync(ARTIFACTS, { recursive: true });
    [server, browser] = await Promise.all([
      startServer({
        DATABASE_URL: join(directory, 'auth.sqlite'),
        NODE_ENV: 'development',
        LOG_LEVEL: 'silent',
        BCRYPT_ROUNDS: '4',
      }),
      launchChromium(),
    ]);
  });

  afterAll(async () => {
    await browser?.close();
    if (server !== undefined) {
      server.child.kill('SIGTERM');
      await server.ended;
    }
    rmSync(directory, { recursive: true, force: true });
  });

  it('registers, logs in, reads the profile and logs out through its editors, with an HttpOnly cookie and nothing from another origin', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const log = record(context, page);
    try {
      await openPlayground(page, server.baseUrl);

      await openTab(page, 'Register');
      await typeVariables(page, { email: EMAIL, password: PASSWORD });
      expect(await run(page, 'register')).toEqual({
        data: {
          register: {
            id: expect.any(String) as string,
            email: EMAIL,
            createdAt: expect.any(String) as string,
          },
        },
      });

      await openTab(page, 'Login');
      await typeVariables(page, { email: EMAIL, password: PASSWORD });
      expect(await run(page, 'login')).toEqual({
        data: { login: { id: expect.any(String) as string, email: EMAIL } },
      });
      // The browser holds the session cookie, and the page's scripts cannot read it.
      const [session] = (await context.cookies()).filter((cookie) => cookie.name === 'session_id');
      expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
      expect(await page.evaluate(() => document.cookie)).toBe('');

      await openTab(page, 'Profile');
      expect(await run(page, 'profile')).toMatchObject({ data: { profile: { email: EMAIL } } });
      await page.screenshot({ path: join(ARTIFACTS, 'playground.png') });

      await openTab(page, 'Logout');
      expect(await run(page, 'logout')).toEqual({ data: { logout: true } });
      expect((await context.cookies()).map((cookie) => cookie.name)).not.toContain('session_id');

      await openTab(page, 'Profile');
      expect(await run(page, 'profile')).toEqual({ data: { profile: null } });

      const foreign = log.requests.filter((request) => !request.url.startsWith(`${server.baseUrl}/`));
      expect(foreign).toEqual([]);
      expect(log.requests.map((request) => `${request.method} ${new URL(request.url).pathname}`)).toEqual(
        expect.arrayContaining([
          'GET /graphql',
          'GET /graphql/playground/app.js',
          'GET /graphql/playground/app.css',
          'POST /graphql',
        ]),
      );
      // Every operation went as JSON, which Apollo's CSRF prevention requires.
      for (const request of log.requests.filter((r) => r.method === 'POST')) {
        expect(request.contentType).toBe('application/json');
      }
      expect(log.failures).toEqual([]);
      expect(log.consoleErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it("opens GraphiQL's settings dialog without any CSP violation (its scroll lock needs no inline style)", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const log = record(context, page);
    try {
      await openPlayground(page, server.baseUrl);
      await page.click('button[aria-label="Open settings dialog"]');
      await page.waitForSelector('[role="dialog"]');
      // Radix locks the page's scrolling while the dialog is open: the CSS arrived despite style-src 'self'.
      expect(await page.evaluate(() => getComputedStyle(document.body).overflow)).toBe('hidden');
      await page.keyboard.press('Escape');
      await page.waitForSelector('[role="dialog"]', { state: 'detached' });
      expect(await page.evaluate(() => getComputedStyle(document.body).overflow)).not.toBe('hidden');
      expect(log.consoleErrors).toEqual([]);
      expect(log.failures).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
