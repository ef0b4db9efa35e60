// The Node.js lines the project declares: package.json's engines, .nvmrc and the running Node agree.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { satisfies } from 'semver';

const ROOT = join(__dirname, '..', '..');
const engines = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }
).engines.node;

it('accepts the LTS lines 22 (from 22.15) and 24 and later, and Node 20 while it is kept working', () => {
  for (const version of ['22.15.0', '22.20.0', '24.0.0', '26.1.0', '20.19.0'])
    expect(satisfies(version, engines)).toBe(true);
  for (const version of ['18.20.0', '20.11.0', '22.14.0', '23.0.0'])
    expect(satisfies(version, engines)).toBe(false);
});

it('names in .nvmrc a line the engines accept, and runs on a Node they accept', () => {
  const nvmrc = readFileSync(join(ROOT, '.nvmrc'), 'utf8').trim();
  expect(nvmrc).toBe('24');
  expect(satisfies(`${nvmrc}.0.0`, engines)).toBe(true);
  expect(satisfies(process.version, engines)).toBe(true);
});
