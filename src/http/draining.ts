// Graceful shutdown on the HTTP side: once closing starts, every answer tells its client to drop the connection.
import type { FastifyInstance } from 'fastify';

/**
 * Marks every answer sent after closing has started with `Connection: close`. Node refuses new connections and
 * drops idle ones at once, but a keep-alive connection whose request is still running would otherwise be told
 * `keep-alive` and reused by its client, whose next request then meets a socket that is about to go away. With
 * `Connection: close` the client opens a fresh connection, which the load balancer sends to another instance.
 */
export function registerDraining(app: FastifyInstance): void {
  let closing = false;
  // preClose runs as soon as close() is called, before the listener closes and before any onClose hook.
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) void reply.header('connection', 'close');
    done(null, payload);
  });
}
