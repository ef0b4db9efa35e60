// Who is calling, as the rate limits see it, taken from a request in the one way both transports share.
import type { FastifyRequest } from 'fastify';
import type { Caller } from '../auth/auth-gate';

/**
 * The caller of a request: the client address Fastify derived. That is the socket's peer unless the peer is a
 * proxy named in TRUST_PROXY, in which case it is the address that proxy reports in X-Forwarded-For; a client
 * can therefore not pick its own address by sending that header.
 */
export function callerOf(request: FastifyRequest): Caller {
  return { ip: request.ip };
}
