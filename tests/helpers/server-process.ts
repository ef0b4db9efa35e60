// The built server (`node dist/src/main.js`) as a child process for end-to-end tests: start, probe, signal, wait.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';

/** The compiled entry point; jest's global setup builds it before any test runs. */
export const MAIN = join(__dirname, '..', '..', 'dist', 'src', 'main.js');

/** How a child process ended: its exit code, or the signal that killed it. */
export interface ProcessEnd {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A running server process and what a test needs to talk to it and watch it end. */
export interface ServerProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly port: number;
  readonly baseUrl: string;
  /** Everything it wrote to stdout and stderr so far. */
  readonly output: () => string;
  /** Settles when the process has ended. */
  readonly ended: Promise<ProcessEnd>;
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

/**
 * The status of one `GET path` on a connection of its own that is closed afterwards, or null when the request
 * fails (refused, reset). No pooled keep-alive connection is left behind to interfere with later requests.
 */
export async function probeStatus(port: number, path: string): Promise<number | null> {
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

/**
 * Starts the built server on a free port with a minimal environment plus `env`, and waits until `GET /healthz`
 * answers 200 (LOG_LEVEL=silent prints no "listening" line to wait for). Throws with the output when the process
 * exits first or does not answer within 20 s.
 */
export async function startServer(env: Readonly<Record<string, string>>): Promise<ServerProcess> {
  return startServerWith(process.execPath, [MAIN], env);
}

/**
 * Like startServer, but the server is whatever `command` with `args` starts (`npm start`, say), run from the project
 * root; HOME is passed on too, for npm's own files.
 */
export async function startServerWith(
  command: string,
  args: readonly string[],
  env: Readonly<Record<string, string>>,
): Promise<ServerProcess> {
  const port = await freePort();
  const child = spawn(command, args, {
    cwd: join(__dirname, '..', '..'),
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      HOST: '127.0.0.1',
      PORT: String(port),
      ...env,
    },
  });
  let text = '';
  child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const ended = new Promise<ProcessEnd>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const deadline = Date.now() + 20_000;
  while ((await probeStatus(port, '/healthz')) !== 200) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not start:\n${text}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { child, port, baseUrl: `http://127.0.0.1:${port}`, output: () => text, ended };
}

/** Kills the process with SIGKILL unless it has already ended, and waits for the end. */
export async function killHard(server: ServerProcess): Promise<ProcessEnd> {
  if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
  return server.ended;
}

/** A form-encoded POST, as `curl -d` sends it. */
export function formPost(fields: Readonly<Record<string, string>>): RequestInit {
  return {
    method: 'POST',
    body: new URLSearchParams(fields).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  };
}
