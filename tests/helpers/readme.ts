// The docs' shell examples (README, docs/) as steps a test can run: each command, and the answer its comment promises.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One command of a document's block, with the first answer its comments promise (null when they promise none). */
export interface ReadmeStep {
  readonly command: string;
  readonly expected: string | null;
  /** The document line the command starts on, for failure messages. */
  readonly line: number;
}

/** The project root: README.md and CONTRIBUTING.md are there, the other pages in docs/. */
const ROOT = join(__dirname, '..', '..');

/** The README, as the tests read it. */
export const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** A document with its curl blocks: its path from the project root, and the blocks in its order. */
export interface DocumentBlocks {
  readonly path: string;
  readonly blocks: ReadmeStep[][];
}

/**
 * Every document a reader may copy a curl example from, with its curl blocks: the README first, then
 * CONTRIBUTING.md and every page of docs/ in name order, so a page added to docs/ is read without being listed
 * here. Documents without a curl block are left out.
 */
export function documentCurlBlocks(): DocumentBlocks[] {
  const pages = readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`);
  return ['README.md', 'CONTRIBUTING.md', ...pages]
    .filter((path) => existsSync(join(ROOT, path)))
    .map((path) => ({ path, blocks: curlBlocks(readFileSync(join(ROOT, path), 'utf8')) }))
    .filter((document) => document.blocks.length > 0);
}

/**
 * Every ```sh block of a document (the README unless told) that runs curl, in order, as steps. A comment line
 * right after a command is its promised answer when it starts like one (`{`, `< ` or `HTTP/`); other comments
 * (prose, or the answers to other inputs: "again: 400 ...") are not run. A `# ...` at the end of a command line
 * promises its answer too.
 */
export function curlBlocks(markdown = README): ReadmeStep[][] {
  const blocks: ReadmeStep[][] = [];
  const lines = markdown.split('\n');
  for (let index = 0; index < lines.length; index += 1) {
    const fence = /^(\s*)```sh\s*$/.exec(lines[index] ?? '');
    if (fence === null) continue;
    const indent = fence[1]?.length ?? 0;
    const body: { text: string; line: number }[] = [];
    for (index += 1; index < lines.length && !/^\s*```\s*$/.test(lines[index] ?? ''); index += 1) {
      body.push({ text: (lines[index] ?? '').slice(indent), line: index + 1 });
    }
    const steps = stepsOf(body);
    if (steps.some((step) => /^curl\b/.test(step.command))) blocks.push(steps);
  }
  return blocks;
}

/** A block's lines as steps: continuation lines joined, promised answers attached. */
function stepsOf(body: readonly { text: string; line: number }[]): ReadmeStep[] {
  const steps: { command: string; expected: string | null; line: number }[] = [];
  let awaitingAnswer = false;
  for (let i = 0; i < body.length; i += 1) {
    const { text, line } = body[i] ?? { text: '', line: 0 };
    const trimmed = text.trim();
    if (trimmed === '') continue;
    if (trimmed.startsWith('#')) {
      const comment = trimmed.replace(/^#\s?/, '');
      const last = steps.at(-1);
      if (awaitingAnswer && last !== undefined && /^(\{|< |HTTP\/)/.test(comment)) last.expected = comment;
      awaitingAnswer = false;
      continue;
    }
    let command = text;
    while (command.trimEnd().endsWith('\\') && i + 1 < body.length) {
      i += 1;
      command = `${command.trimEnd().slice(0, -1)} ${(body[i]?.text ?? '').trim()}`;
    }
    const inline = /\s{2,}#\s(.*)$/.exec(command);
    steps.push({
      command: (inline === null ? command : command.slice(0, inline.index)).trim(),
      expected: inline?.[1]?.trim() ?? null,
      line,
    });
    awaitingAnswer = inline === null;
  }
  return steps;
}

/** What a command printed: stdout (body, and headers with -i) and stderr (curl -v's header lines). */
export interface CurlOutput {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command line in bash in `directory` (where curl's cookie jar goes). */
export function runShell(command: string, directory: string): CurlOutput {
  try {
    const stdout = execFileSync('bash', ['-c', command], { cwd: directory, encoding: 'utf8', stdio: 'pipe' });
    return { stdout, stderr: '' };
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`\`${command}\` failed: ${failed.stderr ?? failed.message}`);
  }
}

/** Runs a command with curl's -v header lines captured as well (bash redirects them into stderr's own capture). */
export function runCurl(command: string, directory: string): CurlOutput {
  const output = runShell(`${command} 2>stderr.txt; printf '\\n'`, directory);
  return {
    stdout: output.stdout.replace(/\n$/, ''),
    stderr: readFileSync(join(directory, 'stderr.txt'), 'utf8'),
  };
}

/** A placeholder the docs write for a value only the run knows (`q9W...`, `Xk3...`), or an ISO timestamp. */
function isPlaceholder(value: string): boolean {
  return /^[A-Za-z0-9]+\.\.\.$/.test(value) || /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(value);
}

/** Whether `actual` has the shape `expected` promises: equal, but for placeholders, which match any such value. */
export function matchesJson(expected: unknown, actual: unknown): boolean {
  if (typeof expected === 'string' && isPlaceholder(expected)) {
    return (
      typeof actual === 'string' &&
      actual !== '' &&
      (!/^\d{4}-/.test(expected) || !Number.isNaN(Date.parse(actual)))
    );
  }
  if (Array.isArray(expected)) {
    return (
      Array.isArray(actual) &&
      expected.length === actual.length &&
      expected.every((e, i) => matchesJson(e, actual[i]))
    );
  }
  if (typeof expected === 'object' && expected !== null) {
    if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) return false;
    const keys = Object.keys(expected);
    return (
      keys.length === Object.keys(actual).length &&
      keys.every((key) =>
        matchesJson((expected as Record<string, unknown>)[key], (actual as Record<string, unknown>)[key]),
      )
    );
  }
  return expected === actual;
}

/**
 * Why an output does not keep the promise, or null when it does. A promise is a JSON body, a `< header: value`
 * line of curl -v (placeholders match any token), or a status line and headers (`HTTP/1.1 302 Found, location: /`),
 * with parts joined by ` ... ` and a closing remark in parentheses that is not checked.
 */
export function brokenPromise(expected: string, output: CurlOutput): string | null {
  const promise = expected.replace(/\s+\([^)]*\)\s*$/, '').trim();
  for (const part of promise.split(' ... ')) {
    if (part.startsWith('{')) {
      const body =
        output.stdout
          .split(/\r?\n/)
          .filter((line) => line.startsWith('{'))
          .at(-1) ?? '';
      let actual: unknown;
      try {
        actual = JSON.parse(body);
      } catch {
        return `no JSON body in ${JSON.stringify(output.stdout)}`;
      }
      if (!matchesJson(JSON.parse(part), actual)) return `body ${body} does not match ${part}`;
    } else if (part.startsWith('< ')) {
      const pattern = new RegExp(
        `^${part
          .split(/[A-Za-z0-9]+\.\.\./)
          .map((piece) => piece.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
          .join('[^;\\s]+')}\\r?$`,
        'im',
      );
      if (!pattern.test(output.stderr)) return `no header line like "${part}" in curl -v's output`;
    } else {
      for (const piece of part.split(', ')) {
        if (!output.stdout.toLowerCase().includes(piece.trim().toLowerCase())) {
          return `"${piece}" not in ${JSON.stringify(output.stdout.slice(0, 300))}`;
        }
      }
    }
  }
  return null;
}
