// Debian's Chromium driven by playwright-core for the browser tests: launch with the flags this machine needs.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';

/** Debian's package installs it here; playwright never downloads a browser of its own in this project. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Flags for a headless Chromium on a closed network, as root: without the background-networking flags Chromium
 * keeps trying to reach Google's hosts, which this machine refuses (and which a test asserting "no request to
 * any other origin" must not see).
 */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

/** Launches headless Chromium, or throws with the command that installs it when it is absent. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM_PATH}: run \`apt-get install -y chromium\` (or set CHROMIUM_PATH)`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

/**
 * A Chromium profile of its own (a persistent context in a new directory, removed by `close`), with third-party
 * cookies allowed (`cookie_controls_mode` 0, Chrome's default for a regular profile) or blocked (1, what this
 * Chromium does by default, and what Safari and Firefox's strict mode do). Playwright's `newContext` is an
 * incognito profile, which always blocks them. `close` ends the browser and removes the directory.
 */
export async function launchProfile(
  thirdPartyCookies: 'allowed' | 'blocked',
): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  const directory = mkdtempSync(join(tmpdir(), 'auth-chromium-profile-'));
  mkdirSync(join(directory, 'Default'));
  const mode = thirdPartyCookies === 'allowed' ? 0 : 1;
  writeFileSync(
    join(directory, 'Default', 'Preferences'),
    JSON.stringify({ profile: { cookie_controls_mode: mode } }),
  );
  const context = await chromium.launchPersistentContext(directory, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  const close = async (): Promise<void> => {
    await context.close();
    // Chromium may still be flushing the profile for a moment after it says it closed.
    rmSync(directory, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  };
  return { context, close };
}
