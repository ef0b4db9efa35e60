// Who is calling, as the limits and the security log see it, taken from a request in the one way both transports share.
import type { FastifyRequest } from 'fastify';
import { USER_AGENT_MAX_LENGTH, type Caller } from '../operations';

/**
 * The caller of a request. The address is the one Fastify derived: the socket's peer unless the peer is a proxy
 * named in TRUST_PROXY, in which case it is the address that proxy reports in X-Forwarded-For; a client can
 * therefore not pick its own address by sending that header. The user agent is whatever the client says (it is
 * only ever shown back to the account's owner), cut to a bounded length.
 */
export function callerOf(request: FastifyRequest): Caller {
  const userAgent = request.headers['user-agent'];
  return {
    ip: request.ip,
    userAgent: userAgent === undefined || userAgent === '' ? null : userAgent.slice(0, USER_AGENT_MAX_LENGTH),
    log: request.log,
    requestId: request.id,
  };
}
