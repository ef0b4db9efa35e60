// The dependency rule of src/ (eslint.boundaries.cjs): each forbidden import is refused by `npm run lint`, and the allowed ones pass.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ESLint, type Linter } from 'eslint';
import tseslint from 'typescript-eslint';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- the rule's config is CommonJS, shared with eslint.config.mjs
const boundaries = require('../../eslint.boundaries.cjs') as Linter.Config[];

const ROOT = join(__dirname, '..', '..');

/** ESLint with only the dependency rule (no type information needed), as `npm run lint` applies it. */
const eslint = new ESLint({
  cwd: ROOT,
  overrideConfigFile: true,
  overrideConfig: [{ files: ['**/*.ts'], languageOptions: { parser: tseslint.parser } }, ...boundaries],
});

/** The dependency-rule messages ESLint gives for `source` as if it were the file at `path`. */
async function violations(path: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: join(ROOT, path) });
  return (result?.messages ?? [])
    .filter((message) => message.ruleId === 'no-restricted-imports')
    .map((message) => message.message);
}

describe('the dependency rule', () => {
  it.each([
    [
      'a domain module importing a transport',
      'src/accounts/x.ts',
      "import { callerOf } from '../http/caller';",
    ],
    [
      'a domain module importing GraphQL code',
      'src/sessions/x.ts',
      "import { AuthResolver } from '../graphql/auth.resolver';",
    ],
    [
      'a domain module importing Fastify',
      'src/audit/x.ts',
      "import type { FastifyBaseLogger } from 'fastify';",
    ],
    ['a domain module importing Apollo', 'src/mail/x.ts', "import { ApolloServer } from '@apollo/server';"],
    ['a domain module importing graphql-js', 'src/abuse/x.ts', "import { GraphQLError } from 'graphql';"],
    [
      'a domain module importing the use cases',
      'src/accounts/x.ts',
      "import { AuthOperations } from '../operations';",
    ],
    [
      "a module reaching into another's files",
      'src/audit/x.ts',
      "import { SessionRepository } from '../sessions/session.repository';",
    ],
    [
      "a use case reaching into a module's files",
      'src/operations/x.ts',
      "import { UserRepository } from '../accounts/user.repository';",
    ],
    [
      'a use case importing a transport',
      'src/operations/x.ts',
      "import { HttpSessions } from '../http/session-hook';",
    ],
    [
      'a transport importing a domain module',
      'src/http/x.ts',
      "import { SessionService } from '../sessions';",
    ],
    [
      'a transport importing an entity',
      'src/graphql/x.ts',
      "import { User } from '../entities/user.entity';",
    ],
    [
      'a transport importing the ORM',
      'src/http/x.ts',
      "import type { SqlEntityManager } from '@mikro-orm/knex';",
    ],
    [
      'a transport importing the database module',
      'src/http/x.ts',
      "import { openDatabase } from '../database';",
    ],
    ['anyone importing the composition root', 'src/http/x.ts', "import { createApp } from '../app';"],
    ['a domain module importing the entry point', 'src/database/x.ts', "import '../main';"],
    ['a leaf importing a module', 'src/errors.ts', "import { isDatabaseUnavailable } from './database';"],
    ['the shared kernel importing a module', 'src/shared/x.ts', "import { lookupEmail } from '../accounts';"],
    [
      'the composition root reaching into a module',
      'src/app.ts',
      "import { SessionRepository } from './sessions/session.repository';",
    ],
  ])('refuses %s', async (_case, path, source) => {
    expect(await violations(path, source)).toHaveLength(1);
  });

  it.each([
    [
      'a module importing another through its index',
      'src/audit/x.ts',
      "import { lookupEmail } from '../accounts';",
    ],
    [
      'a module importing its own files',
      'src/sessions/x.ts',
      "import { SessionRepository } from './session.repository';",
    ],
    [
      'the shared kernel importing the error catalogue',
      'src/shared/x.ts',
      "import { AuthError } from '../errors';",
    ],
    ['a module importing an entity', 'src/accounts/x.ts', "import { User } from '../entities/user.entity';"],
    [
      'a module importing the leaves',
      'src/mail/x.ts',
      "import type { Config } from '../config';\nimport { fail } from '../errors';",
    ],
    [
      'a use case importing modules',
      'src/operations/x.ts',
      "import type { AccountService } from '../accounts';",
    ],
    [
      'a transport importing the use cases and leaves',
      'src/http/x.ts',
      "import { publicError } from '../operations';\nimport { AuthError } from '../errors';\nimport { errorForLog } from '../shared';",
    ],
    [
      'a transport importing another transport',
      'src/http/x.ts',
      "import { formatError } from '../graphql/format-error';",
    ],
    [
      'the composition root importing modules and transports',
      'src/app.ts',
      "import { AccountService } from './accounts';\nimport { registerRestShim } from './http/rest-shim';",
    ],
    ['the entry point importing the composition root', 'src/main.ts', "import { createApp } from './app';"],
  ])('allows %s', async (_case, path, source) => {
    expect(await violations(path, source)).toEqual([]);
  });

  it('holds for the tree as it is', async () => {
    const files = readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts'))
      .map((file) => join('src', file));
    expect(files.length).toBeGreaterThan(50);
    const broken: string[] = [];
    for (const file of files) {
      const found = await violations(file, readFileSync(join(ROOT, file), 'utf8'));
      broken.push(...found.map((message) => `${file}: ${message}`));
    }
    expect(broken).toEqual([]);
  });
});
