// Liveness and readiness probes for process managers and load balancers: GET /healthz and GET /readyz.
import type { FastifyInstance } from 'fastify';

/** How long the readiness check may take before the instance counts as not ready. */
const READY_TIMEOUT_MS = 2000;

/** Resolves with `check`'s answer, or with `fallback` once `ms` have passed. */
async function within<T>(ms: number, check: Promise<T>, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  try {
    return await Promise.race([check, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A dependency's readiness: why it keeps the instance from serving, or null. */
export type ReadinessCheck = () => Promise<string | null>;

/** The first reason any check gives, in order, or null when all pass. */
async function notReadyReason(checks: readonly ReadinessCheck[]): Promise<string | null> {
  for (const check of checks) {
    const reason = await check();
    if (reason !== null) return reason;
  }
  return null;
}

/**
 * Registers the probes. `/healthz` says the process is alive and answering, and touches nothing else, so a
 * database outage never gets healthy instances restarted. `/readyz` says the instance can serve: the database
 * answers within 2 s and every migration is applied (and the limits' Redis, when there is one, answers); a load
 * balancer should send traffic only while it says so.
 * Neither says anything an outsider could use beyond that.
 */
export function registerHealth(app: FastifyInstance, checks: readonly ReadinessCheck[]): void {
  app.get('/healthz', () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const reason = await within(READY_TIMEOUT_MS, notReadyReason(checks), 'database timed out');
    if (reason === null) return { status: 'ready' };
    return reply.status(503).send({ status: 'not ready', reason });
  });
}
