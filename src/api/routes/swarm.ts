/**
 * Swarm-mode endpoints. berth is a single engine that is never part of a swarm; it answers
 * them as a Docker engine outside a swarm does (503, moby daemon/cluster errors), so clients
 * that probe or tear down swarm state (`docker info`, SDK test tear-downs, compose v1) see the
 * answer they expect instead of a 404. Joining or creating a swarm is refused with a reason.
 */
import { UnavailableError } from '../../common/errors.js';
import type { Router } from '../router.js';

/** moby errNoSwarm: leaving (or unlocking) a swarm this node is not in. */
export const NO_SWARM = 'This node is not part of a swarm';
/** moby errNoManager for a node with no swarm at all: every manager-only call. */
export const NO_MANAGER = 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';

const fail = (message: string) => () => {
  throw new UnavailableError(message);
};

export function registerSwarmRoutes(router: Router): void {
  router.get('/swarm', fail(NO_MANAGER));
  router.post('/swarm/leave', fail(NO_SWARM));
  router.post('/swarm/unlock', fail(NO_SWARM));
  router.get('/swarm/unlockkey', fail(NO_MANAGER));
  router.post('/swarm/update', fail(NO_MANAGER));
  const noSwarmMode = fail('swarm mode is not supported by berth: this engine cannot init or join a swarm');
  router.post('/swarm/init', noSwarmMode);
  router.post('/swarm/join', noSwarmMode);
  for (const kind of ['services', 'nodes', 'tasks', 'secrets', 'configs']) {
    router.get(`/${kind}`, fail(NO_MANAGER));
    router.get(`/${kind}/:id`, fail(NO_MANAGER));
    if (kind !== 'tasks') router.delete(`/${kind}/:id`, fail(NO_MANAGER));
    if (kind !== 'tasks' && kind !== 'nodes') router.post(`/${kind}/create`, fail(NO_MANAGER));
    if (kind !== 'tasks') router.post(`/${kind}/:id/update`, fail(NO_MANAGER));
    if (kind === 'services' || kind === 'tasks') router.get(`/${kind}/:id/logs`, fail(NO_MANAGER));
  }
}
