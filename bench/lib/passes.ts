// Reading a pass's results: rates and latencies of successful answers, failures, and the notes of the table.
import type { KindStats, PassResult } from './load';

const NO_ANSWERS: KindStats = {
  count: 0,
  perSecond: 0,
  statuses: {},
  p50Ms: null,
  p99Ms: null,
  maxMs: null,
  byStatus: {},
};

/** A kind's figures from a pass, or zeros when the kind got no answer at all. */
export function kindOf(pass: PassResult, kind: string): KindStats {
  return pass.kinds[kind] ?? NO_ANSWERS;
}

/** Answers with the given status per second. */
export function okPerSecond(pass: PassResult, kind: string, status = '200'): number {
  return (kindOf(pass, kind).statuses[status] ?? 0) / pass.durationSeconds;
}

/** Latency percentiles of the successful answers of a kind (other statuses have their own figures). */
export function okLatency(pass: PassResult, kind: string): { p50Ms: number | null; p99Ms: number | null } {
  const ok = kindOf(pass, kind).byStatus['200'];
  return { p50Ms: ok?.p50Ms ?? null, p99Ms: ok?.p99Ms ?? null };
}

/** Everything about a pass that is not its headline: statuses, failures, every kind. */
export function details(pass: PassResult): Record<string, unknown> {
  return {
    durationSeconds: pass.durationSeconds,
    ...(pass.clientLagP99Ms === undefined ? {} : { clientLagP99Ms: pass.clientLagP99Ms }),
    errors: pass.errors,
    timeouts: pass.timeouts,
    mismatches: pass.mismatches,
    kinds: pass.kinds,
  };
}

/** The pass's failures worth flagging in the table. */
export function failures(pass: PassResult, kind: string): string {
  const parts = Object.entries(kindOf(pass, kind).statuses)
    .filter(([status]) => status !== '200')
    .map(([status, n]) => `${n}x${status}`);
  if (pass.errors > 0) parts.push(`${pass.errors} errors`);
  if (pass.timeouts > 0) parts.push(`${pass.timeouts} timeouts`);
  if (pass.mismatches > 0) parts.push(`${pass.mismatches} wrong bodies`);
  return parts.join(', ');
}

/** The note of an open-loop pass: how late the generator itself was, which every latency of the pass includes. */
export function openLoop(pass: PassResult): string {
  return `open loop, client lag p99 ${(pass.clientLagP99Ms ?? 0).toFixed(1)} ms`;
}

/** The non-empty parts, comma-separated. */
export function joined(...parts: string[]): string {
  return parts.filter((p) => p !== '').join(', ');
}

/** A share as a whole percentage: 0.934 → "93%". */
export function percent(value: number): string {
  return `${Math.round(value * 100)}%`;
}
