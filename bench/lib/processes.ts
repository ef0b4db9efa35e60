// Child processes of a benchmark run: start a server, wait until it answers, watch its memory, and never leave one behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';

const POLL_INTERVAL_MS = 50;
const RSS_SAMPLE_INTERVAL_MS = 200;
const STOP_GRACE_MS = 10_000;
const KIB_PER_MIB = 1024;

/** Every child started by this run and not yet seen to exit: what the exit handlers kill. */
const children = new Set<ChildProcess>();

/** Cleanup steps that are asynchronous (dropping a benchmark database); run once, on success or on failure. */
const asyncCleanups: (() => Promise<void>)[] = [];

/** Kills every child still running with SIGKILL. Synchronous, so it also works from an 'exit' handler. */
export function killAllChildren(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
}

/** Registers an asynchronous cleanup step (run by runCleanups), such as dropping a temporary database. */
export function onCleanup(step: () => Promise<void>): void {
  asyncCleanups.push(step);
}

/** Kills the children and runs the asynchronous cleanups, each at most once; errors are reported, not thrown. */
export async function runCleanups(): Promise<void> {
  killAllChildren();
  for (const step of asyncCleanups.splice(0)) {
    await step().catch((error: unknown) => console.error('cleanup failed:', error));
  }
}

/**
 * Makes the run bounded and tidy: children die with the run on exit, on SIGINT/SIGTERM, on an uncaught error,
 * and when the whole run exceeds `deadlineMs` (a wedged server must not keep a CI job alive).
 */
export function installProcessGuards(deadlineMs: number): void {
  process.on('exit', killAllChildren);
  const abort = (why: string, code: number): void => {
    console.error(`\nbenchmark aborted: ${why}`);
    void runCleanups().finally(() => process.exit(code));
  };
  process.once('SIGINT', () => abort('SIGINT', 130));
  process.once('SIGTERM', () => abort('SIGTERM', 143));
  process.on('uncaughtException', (error) => abort(error.stack ?? String(error), 1));
  process.on('unhandledRejection', (error) => abort(String(error), 1));
  setTimeout(() => abort(`the run took longer than ${deadlineMs / 1000} s`, 1), deadlineMs).unref();
}

/** A TCP port on 127.0.0.1 that nothing listens on at the moment of asking. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

/** The status of one GET on a connection of its own, or null when the request fails. */
function probeStatus(port: number, path: string): Promise<number | null> {
  return new Promise((resolve) => {
    const probe = request({ host: '127.0.0.1', port, path, agent: false }, (response) => {
      response.resume();
      response.once('end', () => resolve(response.statusCode ?? null));
      response.once('error', () => resolve(null));
    });
    probe.once('error', () => resolve(null));
    probe.end();
  });
}

/** Reads one `Vm...: <n> kB` line of /proc/<pid>/status, in MiB; null where /proc is missing (not Linux). */
function readVmMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return match === null ? null : Number(match[1]) / KIB_PER_MIB;
  } catch {
    return null;
  }
}

/** Peak memory of a server process over its life: sampled VmRSS, and the kernel's own high-water mark. */
export interface MemoryPeak {
  readonly sampledPeakRssMiB: number | null;
  readonly vmHwmMiB: number | null;
}

/** How to start a server process. */
export interface ServerSpec {
  readonly name: string;
  /** Arguments to `node` (flags and the script). */
  readonly nodeArgs: readonly string[];
  /** The whole environment of the child (PORT and HOST are added). */
  readonly env: Readonly<Record<string, string>>;
  /** Where its stdout and stderr go: a file, as a production log would. */
  readonly logFile: string;
  /** How long it may take to answer GET /healthz. */
  readonly startTimeoutMs: number;
}

/** A running server: where it listens, and how to stop it. */
export interface RunningServer {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  /** The highest resident memory sampled so far, in MiB (null where /proc is missing). */
  peakRssMiB(): number | null;
  /**
   * SIGTERM, then SIGKILL after a grace period; resolves with the memory peak once the process is gone. Calling it
   * again returns the same answer.
   */
  stop(): Promise<MemoryPeak>;
}

/**
 * Starts a server as a separate process, its output going to a file, and waits until GET /healthz answers 200.
 * Its resident memory is sampled from /proc while it runs.
 */
export async function startServer(spec: ServerSpec): Promise<RunningServer> {
  const port = await freePort();
  const logFd = openSync(spec.logFile, 'a');
  const child = spawn(process.execPath, [...spec.nodeArgs], {
    env: { ...spec.env, HOST: '127.0.0.1', PORT: String(port) },
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  children.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => children.delete(child));
  const pid = child.pid ?? -1;

  let sampledPeak: number | null = null;
  const sampler = setInterval(() => {
    const rss = readVmMiB(pid, 'VmRSS');
    if (rss !== null) sampledPeak = Math.max(sampledPeak ?? 0, rss);
  }, RSS_SAMPLE_INTERVAL_MS);

  const deadline = Date.now() + spec.startTimeoutMs;
  while ((await probeStatus(port, '/healthz')) !== 200) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      clearInterval(sampler);
      child.kill('SIGKILL');
      const log = readFileSync(spec.logFile, 'utf8').slice(-4000);
      throw new Error(`${spec.name} did not start (see ${spec.logFile}):\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }

  const stop = async (): Promise<MemoryPeak> => {
    clearInterval(sampler);
    // The high-water mark must be read while the process still exists.
    const vmHwmMiB = readVmMiB(pid, 'VmHWM');
    const lastRss = readVmMiB(pid, 'VmRSS');
    if (lastRss !== null) sampledPeak = Math.max(sampledPeak ?? 0, lastRss);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(killer);
    }
    return { sampledPeakRssMiB: sampledPeak, vmHwmMiB };
  };
  let stopped: Promise<MemoryPeak> | null = null;
  return {
    name: spec.name,
    pid,
    port,
    peakRssMiB: () => sampledPeak,
    stop: () => (stopped ??= stop()),
  };
}

/** Runs a command to completion with inherited output; rejects on a non-zero exit. */
export async function runCommand(command: string, args: readonly string[]): Promise<void> {
  const child = spawn(command, [...args], { stdio: ['ignore', 'inherit', 'inherit'] });
  children.add(child);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  children.delete(child);
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${code}`);
}
