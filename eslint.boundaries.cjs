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

/** One rule per layer. Later blocks would replace earlier ones for the same file, so the layers' globs are disjoint. */
module.exports = [
  {
    // Domain modules (and the entities and migrations beneath them): never a transport, a framework, the use cases
    // above them, the root, or another module's files.
    files: [
      `src/{${MODULES.filter((m) => m !== 'operations' && m !== 'shared').join(',')}}/**/*.ts`,
      'src/entities/**/*.ts',
      'src/migrations/**/*.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            INTERNALS,
            ROOT,
            ...TRANSPORTS,
            {
              regex: '^(\\.\\./)+operations(/|$)',
              message: 'domain modules are called by the use cases (operations/), never the other way',
            },
          ],
        },
      ],
    },
  },
  {
    // The kernel every layer may import (transports too): it must stay a leaf, importing no module of ours but the
    // error catalogue and config, so importing it can never pull a module in.
    files: ['src/shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...TRANSPORTS,
            {
              regex: '^\\.\\./(?!errors$|config$)',
              message: 'shared/ is a leaf: it imports only ../errors and ../config',
            },
          ],
        },
      ],
    },
  },
  {
    // The use cases: any module through its index, never a transport or a framework.
    files: ['src/operations/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [INTERNALS, ROOT, ...TRANSPORTS] }],
    },
  },
  {
    // The transports: one door (operations/) and the leaves (config, errors, shared), never a domain module,
    // an entity or the ORM directly.
    files: ['src/http/**/*.ts', 'src/graphql/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            INTERNALS,
            ROOT,
            {
              regex: '^(\\.\\./)+(accounts|sessions|abuse|audit|mail|database|entities|migrations)(/|$)',
              message:
                'a transport calls the use cases (../operations) only, never a domain module or an entity',
            },
            {
              regex: '^@mikro-orm/',
              message: 'a transport never touches the database: go through ../operations',
            },
          ],
        },
      ],
    },
  },
  {
    // The leaves anyone may import: they import no module of ours at all.
    files: ['src/config.ts', 'src/errors.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^\\.', message: 'config.ts and errors.ts are leaves: they import nothing of ours' },
          ],
        },
      ],
    },
  },
  {
    // The composition root and the entry points may wire anything, but still only through modules' index.ts.
    files: ['src/app.ts', 'src/main.ts', 'src/migrate.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            INTERNALS,
            {
              regex: '^\\./(main|migrate)$',
              message: 'nothing imports an entry point (main.ts, migrate.ts)',
            },
          ],
        },
      ],
    },
  },
];
