// Load generators: autocannon for closed-loop "as fast as it answers" passes, and an open-loop paced generator for fixed rates.
import autocannon from 'autocannon';
import { connect, type Socket } from 'node:net';

const MS_PER_SECOND = 1000;
const TICK_MS = 1;
/** How long a paced pass waits for answers still outstanding once it stops sending. */
const DRAIN_GRACE_MS = 5_000;

/** One HTTP request of a pass, tagged with the kind it is counted under (profile, login, ...). */
export interface TaggedRequest {
  readonly kind: string;
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  /** For autocannon only: rebuilds the request before each send (a fresh email per registration). */
  readonly setupRequest?: (request: autocannon.Request) => autocannon.Request;
  /** For autocannon only: sees each answer (to collect the emails that registered). */
  readonly onResponse?: (status: number, body: string) => void;
}

/** Latencies and statuses of one kind of request in a pass. */
export interface KindStats {
  readonly count: number;
  readonly perSecond: number;
  /** Answers per status code. */
  readonly statuses: Readonly<Record<string, number>>;
  /** Latency percentiles over every answer of the kind, in ms; null when none came. */
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly maxMs: number | null;
  /** Percentiles of the answers with one status, e.g. the 503s of a flood. */
  readonly byStatus: Readonly<Record<string, { p50Ms: number; p99Ms: number; maxMs: number }>>;
}

/** What a pass measured: per kind, plus transport failures. */
export interface PassResult {
  readonly durationSeconds: number;
  readonly kinds: Readonly<Record<string, KindStats>>;
  /** Connection errors (refused, reset) and requests that got no answer in time. */
  readonly errors: number;
  readonly timeouts: number;
  /** Answers whose body failed the pass's check (such as a GraphQL profile of null). */
  readonly mismatches: number;
  /**
   * Open-loop passes only: the 99th percentile of how late the generator itself sent requests (its timer waking
   * after the due time), in ms. Every latency includes this; a large value means the client, not the server, was
   * short of CPU.
   */
  readonly clientLagP99Ms?: number;
}

/** Collects latencies per kind and per status, over one pass or several (interleaved rounds). */
export class Recorder {
  private readonly latencies = new Map<string, number[]>();
  private readonly statusLatencies = new Map<string, Map<number, number[]>>();

  record(kind: string, status: number, latencyMs: number): void {
    let all = this.latencies.get(kind);
    if (all === undefined) this.latencies.set(kind, (all = []));
    all.push(latencyMs);
    let byStatus = this.statusLatencies.get(kind);
    if (byStatus === undefined) this.statusLatencies.set(kind, (byStatus = new Map<number, number[]>()));
    let list = byStatus.get(status);
    if (list === undefined) byStatus.set(status, (list = []));
    list.push(latencyMs);
  }

  result(durationSeconds: number, errors: number, timeouts: number, mismatches: number): PassResult {
    const kinds: Record<string, KindStats> = {};
    for (const [kind, all] of this.latencies) {
      const statuses: Record<string, number> = {};
      const byStatus: Record<string, { p50Ms: number; p99Ms: number; maxMs: number }> = {};
      for (const [status, list] of this.statusLatencies.get(kind) ?? []) {
        statuses[String(status)] = list.length;
        const sorted = Float64Array.from(list).sort();
        byStatus[String(status)] = {
          p50Ms: percentile(sorted, 50),
          p99Ms: percentile(sorted, 99),
          maxMs: sorted[sorted.length - 1] ?? 0,
        };
      }
      const sorted = Float64Array.from(all).sort();
      kinds[kind] = {
        count: all.length,
        perSecond: all.length / durationSeconds,
        statuses,
        p50Ms: sorted.length === 0 ? null : percentile(sorted, 50),
        p99Ms: sorted.length === 0 ? null : percentile(sorted, 99),
        maxMs: sorted.length === 0 ? null : (sorted[sorted.length - 1] ?? null),
        byStatus,
      };
    }
    return { durationSeconds, kinds, errors, timeouts, mismatches };
  }
}

/** The nearest-rank percentile of sorted values. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? 0;
}

/** Settings of a closed-loop pass. */
export interface ClosedLoopOptions {
  readonly port: number;
  readonly connections: number;
  readonly durationSeconds: number;
  /**
   * The request sequence of each connection, by connection index. Each connection cycles through its own list,
   * so lists that start at different sessions spread the load over every session rather than one cookie.
   */
  readonly requestsFor: (connection: number) => readonly TaggedRequest[];
  /** A check of every answer's body; failures count as mismatches. */
  readonly verifyBody?: (body: string) => boolean;
  /** Stop after this many requests instead of after durationSeconds. */
  readonly amount?: number;
}

/** Sums of several passes into one recorder: for a figure measured in interleaved rounds. */
export class Accumulated {
  readonly recorder = new Recorder();
  private durationSeconds = 0;
  private errors = 0;
  private timeouts = 0;
  private mismatches = 0;

  /** Adds the totals of one pass whose answers went to `recorder`. */
  add(pass: PassResult): void {
    this.durationSeconds += pass.durationSeconds;
    this.errors += pass.errors;
    this.timeouts += pass.timeouts;
    this.mismatches += pass.mismatches;
  }

  /** Everything added so far, as one pass. */
  result(): PassResult {
    return this.recorder.result(this.durationSeconds, this.errors, this.timeouts, this.mismatches);
  }
}

/** autocannon's per-connection client, as far as this file uses its internals (not in @types/autocannon). */
interface ClientInternals {
  readonly requestIterator: { readonly currentRequest: { kind?: string } };
}

function toAutocannonRequest(request: TaggedRequest): autocannon.Request & { kind: string } {
  return {
    kind: request.kind,
    method: request.method,
    path: request.path,
    headers: { ...request.headers },
    ...(request.body === undefined ? {} : { body: request.body }),
    ...(request.setupRequest === undefined ? {} : { setupRequest: request.setupRequest }),
    ...(request.onResponse === undefined
      ? {}
      : { onResponse: (status: number, body: string) => request.onResponse?.(status, body) }),
  };
}

/**
 * Runs autocannon for a fixed time with every connection sending its next request as soon as the last one is
 * answered: the most the server can do with that many connections.
 */
export async function closedLoop(options: ClosedLoopOptions, into?: Accumulated): Promise<PassResult> {
  const recorder = new Recorder();
  let connection = 0;
  let finish: (error: unknown, result: autocannon.Result) => void = () => undefined;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    finish = (error, result) =>
      error ? reject(error instanceof Error ? error : new Error('autocannon failed')) : resolve(result);
  });
  const instance = autocannon(
    {
      url: `http://127.0.0.1:${options.port}`,
      connections: options.connections,
      duration: options.durationSeconds,
      ...(options.amount === undefined ? {} : { amount: options.amount }),
      // Placeholder: setupClient gives each connection its own list before its first request.
      requests: [toAutocannonRequest(options.requestsFor(0)[0])],
      setupClient: (client) => {
        client.setRequests(options.requestsFor(connection++).map(toAutocannonRequest));
      },
      ...(options.verifyBody === undefined
        ? {}
        : { verifyBody: (body) => options.verifyBody?.(String(body ?? '')) === true }),
    },
    (error: unknown, result) => finish(error, result),
  );
  instance.on('response', (client, statusCode, _bytes, responseTimeMs) => {
    // With one request in flight per connection, the iterator still points at the request just answered.
    const kind = (client as unknown as ClientInternals).requestIterator.currentRequest.kind ?? 'all';
    recorder.record(kind, statusCode, responseTimeMs);
    into?.recorder.record(kind, statusCode, responseTimeMs);
  });
  const result = await done;
  const pass = recorder.result(result.duration, result.errors, result.timeouts, result.mismatches);
  into?.add(pass);
  return pass;
}

/** One stream of a paced pass: a kind of request sent at a steady rate, cycling through its requests. */
export interface PacedStream {
  readonly ratePerSecond: number;
  readonly requests: readonly TaggedRequest[];
}

/** Settings of a paced (open-loop) pass. */
export interface PacedOptions {
  readonly port: number;
  readonly durationSeconds: number;
  readonly streams: readonly PacedStream[];
  /** Connections opened before the pass starts; more are opened (up to maxConnections) when all are busy. */
  readonly initialConnections: number;
  readonly maxConnections: number;
}

/** A request of a paced pass as bytes, with its kind. */
interface Encoded {
  readonly kind: string;
  readonly bytes: Buffer;
}

function encode(request: TaggedRequest): Encoded {
  const body = request.body === undefined ? undefined : Buffer.from(request.body);
  const headers = { host: '127.0.0.1', ...request.headers };
  const lines = [`${request.method} ${request.path} HTTP/1.1`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  if (body !== undefined) lines.push(`content-length: ${body.length}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`);
  return { kind: request.kind, bytes: body === undefined ? head : Buffer.concat([head, body]) };
}

const HEADER_END = Buffer.from('\r\n\r\n');
// Node writes header names as the application set them: Fastify's are lower case, Node's own capitalised.
const CONTENT_LENGTH_NAMES = ['\r\ncontent-length:', '\r\nContent-Length:'].map((n) => Buffer.from(n));
const CONNECTION_CLOSE_NAMES = ['\r\nconnection: close', '\r\nConnection: close'].map((n) => Buffer.from(n));
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const SPACE = 0x20;

/** Where one of `names` starts in `head`'s first `end` bytes, or -1. Byte searches: no string is made per answer. */
function findHeader(head: Buffer, end: number, names: readonly Buffer[]): number {
  for (const name of names) {
    const at = head.indexOf(name);
    if (at !== -1 && at < end) return at + name.length;
  }
  return -1;
}

/** The decimal number at `from` (after optional spaces), or 0. */
function numberAt(bytes: Buffer, from: number): number {
  let i = from;
  while (bytes[i] === SPACE) i += 1;
  let value = 0;
  for (let byte = bytes[i]; byte !== undefined && byte >= DIGIT_0 && byte <= DIGIT_9; byte = bytes[++i]) {
    value = value * 10 + (byte - DIGIT_0);
  }
  return value;
}

/** One keep-alive connection of a paced pass, with at most one request in flight. */
class PacedConnection {
  private buffered: Buffer = Buffer.alloc(0);
  private inFlight: { kind: string; dueMs: number } | null = null;

  constructor(
    private readonly socket: Socket,
    private readonly onAnswer: (conn: PacedConnection, kind: string, status: number, dueMs: number) => void,
    /** Called once when the connection is gone, with whether a request was still waiting for its answer. */
    private readonly onGone: (conn: PacedConnection, hadRequest: boolean) => void,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    // 'close' always follows 'error', and is where the connection is accounted for.
    socket.on('error', () => undefined);
    socket.once('close', () => {
      const hadRequest = this.inFlight !== null;
      this.inFlight = null;
      this.onGone(this, hadRequest);
    });
  }

  /** Whether the connection can take another request. */
  get usable(): boolean {
    return !this.socket.destroyed;
  }

  /** Sends a request whose latency counts from `dueMs` (when it was due, not when a connection was free). */
  send(request: Encoded, dueMs: number): void {
    this.inFlight = { kind: request.kind, dueMs };
    this.socket.write(request.bytes);
  }

  close(): void {
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const headerEnd = this.buffered.indexOf(HEADER_END);
    if (headerEnd === -1 || this.inFlight === null) return;
    // Every answer of these servers carries a Content-Length (JSON bodies, empty redirects).
    const lengthAt = findHeader(this.buffered, headerEnd, CONTENT_LENGTH_NAMES);
    const length = lengthAt === -1 ? 0 : numberAt(this.buffered, lengthAt);
    const total = headerEnd + HEADER_END.length + length;
    if (this.buffered.length < total) return;
    // "HTTP/1.1 200 ...": the status is the three digits at offset 9.
    const status = numberAt(this.buffered.subarray(9, 12), 0);
    const closing = findHeader(this.buffered, headerEnd, CONNECTION_CLOSE_NAMES) !== -1;
    this.buffered = this.buffered.subarray(total);
    const { kind, dueMs } = this.inFlight;
    this.inFlight = null;
    if (closing) this.close();
    this.onAnswer(this, kind, status, dueMs);
  }
}

/**
 * Sends each stream's requests at evenly spaced moments, whatever the server's speed (open loop), and measures
 * each latency from the moment the request was due. autocannon's rate options are not used for this: they let
 * every connection send its whole per-second quota back to back at the start of each second, all connections
 * in step, so a "50 %" pass is really full-speed bursts and idle gaps, and its p99 is the burst's.
 */
export async function paced(options: PacedOptions): Promise<PassResult> {
  const recorder = new Recorder();
  const encoded = options.streams.map((stream) => stream.requests.map(encode));
  const all = new Set<PacedConnection>();
  const idle: PacedConnection[] = [];
  const waiting: { request: Encoded; dueMs: number }[] = [];
  let opening = 0;
  let errors = 0;
  let outstanding = 0;

  const take = (conn: PacedConnection): void => {
    const next = waiting.shift();
    if (next !== undefined) conn.send(next.request, next.dueMs);
    else idle.push(conn);
  };
  const onAnswer = (conn: PacedConnection, kind: string, status: number, dueMs: number): void => {
    outstanding -= 1;
    recorder.record(kind, status, performance.now() - dueMs);
    if (conn.usable) take(conn);
  };
  const onGone = (conn: PacedConnection, hadRequest: boolean): void => {
    all.delete(conn);
    const at = idle.indexOf(conn);
    if (at !== -1) idle.splice(at, 1);
    if (hadRequest) {
      errors += 1;
      outstanding -= 1;
    }
  };
  const openConnection = (): Promise<void> => {
    opening += 1;
    return new Promise((resolve) => {
      const socket = connect(options.port, '127.0.0.1');
      const refused = (): void => {
        opening -= 1;
        errors += 1;
        resolve();
      };
      socket.once('error', refused);
      socket.once('connect', () => {
        socket.off('error', refused);
        opening -= 1;
        const conn = new PacedConnection(socket, onAnswer, onGone);
        all.add(conn);
        take(conn);
        resolve();
      });
    });
  };
  const dispatch = (request: Encoded, dueMs: number): void => {
    const conn = idle.pop();
    if (conn !== undefined) return conn.send(request, dueMs);
    waiting.push({ request, dueMs });
    if (all.size + opening < options.maxConnections) void openConnection();
  };

  await Promise.all(Array.from({ length: options.initialConnections }, openConnection));
  const startMs = performance.now();
  const endMs = startMs + options.durationSeconds * MS_PER_SECOND;
  const sent = options.streams.map(() => 0);
  const lagsMs: number[] = [];
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const nowMs = performance.now();
      const horizonMs = Math.min(nowMs, endMs);
      options.streams.forEach((stream, s) => {
        const intervalMs = MS_PER_SECOND / stream.ratePerSecond;
        const requests = encoded[s];
        for (;;) {
          const n = sent[s];
          const dueMs = startMs + n * intervalMs;
          if (dueMs > horizonMs) break;
          sent[s] = n + 1;
          outstanding += 1;
          lagsMs.push(nowMs - dueMs);
          dispatch(requests[n % requests.length], dueMs);
        }
      });
      if (nowMs >= endMs) resolve();
      else setTimeout(tick, TICK_MS);
    };
    tick();
  });
  const durationSeconds = options.durationSeconds;
  const drainDeadline = Date.now() + DRAIN_GRACE_MS;
  while (outstanding > 0 && Date.now() < drainDeadline) {
    await new Promise((resolve) => setTimeout(resolve, TICK_MS * 10));
  }
  const timeouts = Math.max(0, outstanding);
  for (const conn of all) conn.close();
  const clientLagP99Ms = percentile(Float64Array.from(lagsMs).sort(), 99);
  return { ...recorder.result(durationSeconds, errors, timeouts, 0), clientLagP99Ms };
}
