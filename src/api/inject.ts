/**
 * Drives the API server in-process, without a socket, as fastify's `inject()` does (through
 * light-my-request, fastify's own injector): the request goes through the server's whole
 * dispatch (version prefix, routing, errors → status) to the route, and the answer comes back
 * as status, headers and body. For route tests; hijacked streams (attach, exec start) need a
 * real socket and are tested through one.
 */
import type http from 'node:http';
import { inject as lightInject, type InjectOptions, type Response } from 'light-my-request';

export type { InjectOptions, Response };

export function injector(server: http.Server): (options: InjectOptions | string) => Promise<Response> {
  const dispatch = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    server.emit('request', req, res);
  };
  return (options) => lightInject(dispatch, options);
}
