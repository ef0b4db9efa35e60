// Jest global setup: compiles the production build once, so end-to-end tests run the real `node dist/src/main.js`.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** Runs `tsc -p tsconfig.build.json` (incremental: fast when nothing changed). */
export default function globalSetup(): void {
  const root = join(__dirname, '..', '..');
  execFileSync(
    process.execPath,
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
}
