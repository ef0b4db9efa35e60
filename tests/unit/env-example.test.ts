// .env.example is usable as it says: Node's .env parser and a POSIX shell both read it, and it lists every variable.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { ENV_VARIABLES, loadConfig } from '../../src/config';

const EXAMPLE = join(__dirname, '..', '..', '.env.example');
const source = readFileSync(EXAMPLE, 'utf8');

it('parses with Node’s own .env parser into exactly the default configuration', () => {
  const parsed = parseEnv(source);
  expect(parsed.MAIL_FROM).toBe('user-auth-service <no-reply@localhost>');
  expect(loadConfig(parsed)).toEqual(loadConfig({ NODE_ENV: 'development' }));
});

it('lists every variable the service reads, each once, and no other', () => {
  const listed = [...source.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((match) => match[1]);
  expect([...listed].sort()).toEqual([...ENV_VARIABLES].sort());
});

it('can be sourced by a POSIX shell (set -a; . ./.env), values with spaces and <> intact', () => {
  const shell = spawnSync('sh', ['-c', `set -a; . '${EXAMPLE}'; printf '%s|%s' "$MAIL_FROM" "$PORT"`], {
    encoding: 'utf8',
  });
  expect([shell.status, shell.stderr, shell.stdout]).toEqual([
    0,
    '',
    'user-auth-service <no-reply@localhost>|5000',
  ]);
});
