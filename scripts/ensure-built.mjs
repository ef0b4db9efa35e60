// Runs before `npm start` and `npm run migrate`: builds in development (so `npm ci && npm start` works on a fresh clone), never in production.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const main = join(root, 'dist', 'src', 'main.js');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

// NODE_ENV may come from .env, as it does for the server (src/config.ts loadEnvFile): the environment still wins.
if (existsSync(join(process.cwd(), '.env'))) process.loadEnvFile(join(process.cwd(), '.env'));

// A production install (`npm ci --omit=dev`) has no TypeScript or esbuild: it runs the dist/ that `npm run build`
// made beforehand (in the image build, or on the machine before `--omit=dev`), and must never try to rebuild it.
if (process.env.NODE_ENV === 'production') {
  if (!existsSync(main)) {
    process.stderr.write(
      'dist/src/main.js is missing: run `npm run build` (it needs the dev dependencies) before `npm start`\n',
    );
    process.exit(1);
  }
  process.exit(0);
}
if (!existsSync(tsc)) {
  if (existsSync(main)) process.exit(0);
  process.stderr.write('dist/ is missing and TypeScript is not installed: run `npm ci`, then `npm start`\n');
  process.exit(1);
}
// The same two steps as `npm run build`, run directly so that no second npm process sits between them and us.
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
execFileSync(process.execPath, [join(root, 'scripts', 'build-playground.mjs')], {
  cwd: root,
  stdio: 'inherit',
});
