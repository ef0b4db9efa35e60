// The dependency rule as ESLint config: which layer of src/ may import what. Shared by eslint.config.mjs and its test.
'use strict';

/** The domain modules: each a folder whose index.ts is its only public surface. */
const MODULES = ['accounts', 'sessions', 'abuse', 'audit', 'mail', 'shared', 'database', 'operations'];
const MODULE_GROUP = MODULES.join('|');

/** Reaching past a module's index.ts ("../sessions/session.repository") from anywhere. */
const INTERNALS = {
  regex: `^(\\.\\.?/)+(${MODULE_GROUP})/.+`,
  message: 'import another module through its index.ts ("../sessions"), never its files',
};
/** The composition root and the entry points: nothing imports them. */
const ROOT = {
  regex: '^(\\.\\.?/)+(app|main|migrate)$',
  message: 'nothing imports the composition root or an entry point (app.ts, main.ts, migrate.ts)',
};
/** The transports and their frameworks, seen from below them. */
const TRANSPORTS = [
  {
    regex: '^(\\.\\.?/)+(http|graphql)(/|$)',
    message: 'a domain module or use case never imports a transport (http/, graphql/)',
  },
  {
    regex: '^(fastify|@fastify/.+|@apollo/.+|@as-integrations/.+|graphql|type-graphql|@escape\\.tech/.+)$',
    message:
      'HTTP and GraphQL frameworks belong to the transports; domain code takes plain values and a Logger',
  },
];

/** The modules below the use cases, which the transports may not reach (all but operations/ and the leaf shared/). */
const DOMAIN = MODULES.filter((m) => m !== 'operations' && m !== 'shared');

/** One layer's rule: `files` may not import anything matching `patterns`. */
function layer(files, patterns) {
  return { files, rules: { 'no-restricted-imports': ['error', { patterns }] } };
}

/** One rule per layer. Later blocks would replace earlier ones for the same file, so the layers' globs are disjoint. */
module.exports = [
  // Domain modules (and the entities and migrations beneath them): never a transport, a framework, the use cases
  // above them, the root, or another module's files.
  layer(
    [`src/{${DOMAIN.join(',')}}/**/*.ts`, 'src/entities/**/*.ts', 'src/migrations/**/*.ts'],
    [
      INTERNALS,
      ROOT,
      ...TRANSPORTS,
      {
        regex: '^(\\.\\./)+operations(/|$)',
        message: 'domain modules are called by the use cases (operations/), never the other way',
      },
    ],
  ),
  // The kernel every layer may import (transports too): it must stay a leaf, importing no module of ours but the
  // error catalogue and config, so importing it can never pull a module in.
  layer(
    ['src/shared/**/*.ts'],
    [
      ...TRANSPORTS,
      {
        regex: '^\\.\\./(?!errors$|config$)',
        message: 'shared/ is a leaf: it imports only ../errors and ../config',
      },
    ],
  ),
  // The use cases: any module through its index, never a transport or a framework.
  layer(['src/operations/**/*.ts'], [INTERNALS, ROOT, ...TRANSPORTS]),
  // The transports: one door (operations/) and the leaves (config, errors, shared), never a domain module, an
  // entity or the ORM directly.
  layer(
    ['src/http/**/*.ts', 'src/graphql/**/*.ts'],
    [
      INTERNALS,
      ROOT,
      {
        regex: `^(\\.\\./)+(${[...DOMAIN, 'entities', 'migrations'].join('|')})(/|$)`,
        message: 'a transport calls the use cases (../operations) only, never a domain module or an entity',
      },
      { regex: '^@mikro-orm/', message: 'a transport never touches the database: go through ../operations' },
    ],
  ),
  // The leaves anyone may import: they import no module of ours at all.
  layer(
    ['src/config.ts', 'src/errors.ts'],
    [{ regex: '^\\.', message: 'config.ts and errors.ts are leaves: they import nothing of ours' }],
  ),
  // The composition root and the entry points may wire anything, but still only through modules' index.ts.
  layer(
    ['src/app.ts', 'src/main.ts', 'src/migrate.ts'],
    [
      INTERNALS,
      { regex: '^\\./(main|migrate)$', message: 'nothing imports an entry point (main.ts, migrate.ts)' },
    ],
  ),
];
