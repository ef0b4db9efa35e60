// Bundles the GraphQL playground (web/playground) into dist/public/playground/app.js and app.css with esbuild.
import { Buffer } from 'node:buffer';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'public', 'playground');

const result = await build({
  absWorkingDir: root,
  entryPoints: { app: 'web/playground/playground.tsx' },
  bundle: true,
  minify: true,
  platform: 'browser',
  target: 'es2020',
  format: 'iife',
  jsx: 'automatic',
  // React and its dependencies choose their production builds (no dev warnings, much smaller) from this.
  define: { 'process.env.NODE_ENV': '"production"' },
  // graphiql's CSS already inlines its fonts and images as data: URIs; these loaders cover any that would not,
  // so the page never needs a file from another origin.
  loader: {
    '.woff': 'dataurl',
    '.woff2': 'dataurl',
    '.ttf': 'dataurl',
    '.svg': 'dataurl',
    '.png': 'dataurl',
  },
  // Radix's scroll lock adds its CSS as a <style> element, which the page's CSP refuses; this stand-in applies the
  // same CSS as a constructed stylesheet instead (see the file).
  alias: { 'react-style-singleton': './web/playground/style-singleton.ts' },
  // The licences of what is bundled (MIT and alike) ask for their notices to travel with the code.
  legalComments: 'eof',
  outdir,
  write: false,
  logLevel: 'warning',
});

await mkdir(outdir, { recursive: true });
for (const file of result.outputFiles) {
  const current = await readFile(file.path).catch(() => null);
  if (current !== null && Buffer.compare(current, file.contents) === 0) continue;
  // Written aside then renamed: a server or test reading the bundle while it is rebuilt sees the old file or the
  // new one, never half of one.
  const temporary = `${file.path}.${process.pid}.tmp`;
  await writeFile(temporary, file.contents);
  await rename(temporary, file.path);
}
