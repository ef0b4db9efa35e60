// Summarises a V8 .cpuprofile (node --cpu-prof): the functions and packages with the most self (or total) time.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly hitCount?: number;
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const DEFAULT_TOP = 30;

/** Where a function lives, shortened: a package name for node_modules, a path for our code, or a V8 category. */
function origin(url: string): string {
  if (url === '') return '(native/V8)';
  const path = url.replace(/^file:\/\//, '');
  const modules = path.lastIndexOf('node_modules/');
  if (modules !== -1) {
    const rest = path.slice(modules + 'node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') === true ? `${rest[0]}/${rest[1] ?? ''}` : (rest[0] ?? path);
  }
  if (path.startsWith('node:')) return 'node (core)';
  return relative(process.cwd(), path);
}

/** Self time per node id, in microseconds, from the sample stream. */
function selfTimes(profile: CpuProfile): Map<number, number> {
  const times = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    times.set(id, (times.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  return times;
}

/** The display key of a node's function: name, and where it is defined. */
function keyOf(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  return `${functionName || '(anonymous)'}  ${origin(url)}${url === '' ? '' : `:${lineNumber + 1}`}`;
}

/**
 * Total (inclusive) time per function and per origin: the time of every sample with that function, or code of that
 * origin, anywhere on its stack, counted once per sample even when it recurses.
 */
function inclusiveTimes(
  profile: CpuProfile,
  times: Map<number, number>,
): [Map<string, number>, Map<string, number>] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const byFunction = new Map<string, number>();
  const byOrigin = new Map<string, number>();
  const walk = (id: number, functions: ReadonlySet<string>, origins: ReadonlySet<string>): void => {
    const node = byId.get(id);
    if (node === undefined) return;
    const key = keyOf(node);
    const where = origin(node.callFrame.url);
    const nextFunctions = functions.has(key) ? functions : new Set([...functions, key]);
    const nextOrigins = origins.has(where) ? origins : new Set([...origins, where]);
    const us = times.get(id) ?? 0;
    if (us > 0) {
      for (const f of nextFunctions) byFunction.set(f, (byFunction.get(f) ?? 0) + us);
      for (const o of nextOrigins) byOrigin.set(o, (byOrigin.get(o) ?? 0) + us);
    }
    for (const child of node.children ?? []) walk(child, nextFunctions, nextOrigins);
  };
  walk(profile.nodes[0]?.id ?? 1, new Set(), new Set());
  return [byFunction, byOrigin];
}

function main(): void {
  const args = process.argv.slice(2);
  const inclusive = args.includes('--inclusive');
  const [file, topArg] = args.filter((a) => a !== '--inclusive');
  if (file === undefined) {
    console.error(
      'usage: ts-node --transpile-only bench/profile-summary.ts [--inclusive] <file.cpuprofile> [top]',
    );
    process.exit(2);
  }
  const top = Number(topArg ?? DEFAULT_TOP);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const times = selfTimes(profile);
  const total = [...times.values()].reduce((a, b) => a + b, 0);
  const byFunction = new Map<string, number>();
  const byOrigin = new Map<string, number>();
  for (const node of profile.nodes) {
    const us = times.get(node.id) ?? 0;
    if (us === 0) continue;
    const key = keyOf(node);
    const where = origin(node.callFrame.url);
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    byOrigin.set(where, (byOrigin.get(where) ?? 0) + us);
  }
  const kind = inclusive ? 'total' : 'self';
  if (inclusive) {
    const [functions, origins] = inclusiveTimes(profile, times);
    byFunction.clear();
    byOrigin.clear();
    for (const [k, v] of functions) byFunction.set(k, v);
    for (const [k, v] of origins) byOrigin.set(k, v);
  }
  const lines: string[] = [`total sampled ${(total / 1e6).toFixed(2)} s`, '', `${kind} time by function:`];
  const pct = (us: number): string => `${((us / total) * 100).toFixed(1).padStart(5)}%`;
  for (const [key, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`${pct(us)}  ${key}`);
  }
  lines.push('', `${kind} time by origin:`);
  for (const [key, us] of [...byOrigin].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`${pct(us)}  ${key}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

main();
