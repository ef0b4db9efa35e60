// Preloaded (node --require) by tests/e2e/npm-start.test.ts: makes loading any dev-only package fail the process.
'use strict';
const Module = require('node:module');
const { readFileSync } = require('node:fs');
const { sep } = require('node:path');

// The package directories a production install has (`npm ls --omit=dev --all --parseable`), one per line, written
// by the test. Anything else under the project's node_modules exists only because dev dependencies were installed.
const allowed = new Set(
  readFileSync(process.env.AUTH_TEST_PRODUCTION_PACKAGES, 'utf8').split('\n').filter(Boolean),
);
const projectModules = `${process.env.AUTH_TEST_PROJECT_ROOT}${sep}node_modules${sep}`;

/** The package directory a resolved file belongs to (the innermost node_modules/<name> or <@scope/name>). */
function packageDirectory(file) {
  const marker = `${sep}node_modules${sep}`;
  const at = file.lastIndexOf(marker);
  const rest = file.slice(at + marker.length).split(sep);
  const name = rest[0].startsWith('@') ? `${rest[0]}${sep}${rest[1]}` : rest[0];
  return file.slice(0, at + marker.length) + name;
}

const resolve = Module._resolveFilename;
Module._resolveFilename = function resolveOnlyProductionPackages(request, ...rest) {
  const file = resolve.call(this, request, ...rest);
  if (typeof file === 'string' && file.startsWith(projectModules)) {
    const directory = packageDirectory(file);
    if (!allowed.has(directory)) {
      process.stderr.write(`dev-only package loaded at run time: ${directory}\n`);
      throw new Error(`dev-only package loaded at run time: ${directory}`);
    }
  }
  return file;
};
