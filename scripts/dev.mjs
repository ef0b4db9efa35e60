// `npm run dev`: build once, then recompile on change (tsc --watch) and restart the server on new output (node --watch).
import { execFileSync, spawn } from 'node:child_process';
import { join, dirname } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

// The same two steps as `npm run build` first, so the server starts on a complete dist/ (playground included)
// instead of restarting once per file while the first watch compile writes it.
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
execFileSync(process.execPath, [join(root, 'scripts', 'build-playground.mjs')], {
  cwd: root,
  stdio: 'inherit',
});

const children = [
  // --preserveWatchOutput: tsc would otherwise clear the terminal, and the server's log lines with it.
  spawn(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--watch', '--preserveWatchOutput'], {
    cwd: root,
    stdio: 'inherit',
  }),
  // node --watch restarts the server whenever a file it loaded from dist/ changes.
  spawn(process.execPath, ['--watch', join('dist', 'src', 'main.js')], { cwd: root, stdio: 'inherit' }),
];

// Ctrl-C reaches every process of the terminal's group at once; a SIGTERM sent to npm or to this process alone
// is passed on, so neither child outlives us.
let stopping = false;
function stop(signal) {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill(signal);
}
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => stop(signal));

// Whichever child ends first (the server after a signal, or tsc failing to start) takes the other with it.
let running = children.length;
let status = 0;
for (const child of children) {
  child.on('exit', (code, signal) => {
    if (code !== null && code !== 0) status = code;
    else if (code === null && signal !== 'SIGINT' && signal !== 'SIGTERM') status = 1;
    stop('SIGTERM');
    running -= 1;
    if (running === 0) process.exit(status);
  });
}
