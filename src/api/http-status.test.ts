// Every error class of the daemon → its HTTP status and the message the client gets, through
// the real server dispatch (api/server.ts), injected without a socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../common/errors.js';
import { silentLogger } from '../common/logger.js';
import { CommandFailedError } from '../common/command-runner.js';
import { NoSuchUserError } from '../runtime/user.js';
import { ResourceClaimedError } from '../daemon/host-claims.js';
import { InvalidReferenceError } from '../oci/reference.js';
import { PortAllocatedError } from '../network/ports/port-allocator.js';
import { BlobNotFoundError } from '../image/content-store.js';
import { NoSuchLayerError } from '../image/layer-store.js';
import { InvalidChangeError } from '../image/changes.js';
import { RegistryError, RegistryNotFoundError, RegistryUnauthorizedError, RegistryUnreachableError } from '../registry/client/client.js';
import { MissingContextBlobError, OutsideContextError } from '../build/build-context.js';
import { SubstitutionError } from '../build/dockerfile/lexer.js';
import { DockerfileParseError } from '../build/dockerfile/parser.js';
import { BuildError } from '../build/builder.js';
import { DeadlineError } from '../cri/grpc.js';
import { PathNotFoundError } from '../volume/archive.js';
import { NoSuchVolumeError, VolumeInUseError } from '../volume/volume-service.js';
import { PathSwappedError } from '../volume/scoped-fs.js';
import { InvalidPolicyError, KeyError, PolicyRejectedError } from '../trust/errors.js';
import { injector } from './inject.js';
import { Router } from './router.js';
import { createApiServer } from './server.js';

type Row = [name: string, error: unknown, status: number, message: string];

const m = (msg: string): string => msg;
const TABLE: Row[] = [
  // the categories
  ['InvalidParameterError', new E.InvalidParameterError('bad'), 400, 'bad'],
  ['UnauthorizedError', new E.UnauthorizedError('who'), 401, 'who'],
  ['ForbiddenError', new E.ForbiddenError('no'), 403, 'no'],
  ['NotFoundError', new E.NotFoundError('gone'), 404, 'gone'],
  ['ConflictError', new E.ConflictError('clash'), 409, 'clash'],
  ['NotImplementedError', new E.NotImplementedError('later'), 501, 'later'],
  ['UnavailableError', new E.UnavailableError('busy'), 503, 'busy'],
  ['SystemError', new E.SystemError('broke'), 500, 'broke'],
  ['BerthError', new E.BerthError('plain'), 500, 'plain'],
  // the catalogue in common/errors.ts
  ['NoSuchContainerError', new E.NoSuchContainerError('c1'), 404, 'No such container: c1'],
  ['NoSuchImageError', new E.NoSuchImageError('i1'), 404, 'No such image: i1'],
  ['NoSuchExecError', new E.NoSuchExecError('e1'), 404, 'No such exec instance: e1'],
  ['NameConflictError', new E.NameConflictError('web', 'abc'), 409, m('Conflict. The container name "/web" is already in use by container "abc". You have to remove (or rename) that container to be able to reuse that name.')],
  ['ContainerRunningError', new E.ContainerRunningError('running'), 409, 'running'],
  ['ContainerNotRunningError', new E.ContainerNotRunningError('not running'), 409, 'not running'],
  ['ImageInUseError', new E.ImageInUseError('in use'), 409, 'in use'],
  ['AmbiguousReferenceError', new E.AmbiguousReferenceError('ambiguous'), 400, 'ambiguous'],
  ['InvalidTarError', new E.InvalidTarError('bad tar'), 400, 'bad tar'],
  ['DigestMismatchError', new E.DigestMismatchError('digest'), 400, 'digest'],
  ['RuntimeError', new E.RuntimeError('crun said no'), 500, 'crun said no'],
  // the module errors
  ['CommandFailedError', new CommandFailedError(['ip', 'link'], { code: 2, stdout: '', stderr: 'RTNETLINK answers: File exists\n' }), 500, ''],
  ['NoSuchUserError', new NoSuchUserError('unable to find user nobody2'), 404, 'unable to find user nobody2'],
  ['ResourceClaimedError', new ResourceClaimedError('bridge claimed', { kind: 'bridge', name: 'b0' } as never, { pid: 1 } as never), 409, 'bridge claimed'],
  ['InvalidReferenceError', new InvalidReferenceError('invalid reference format'), 400, 'invalid reference format'],
  ['PortAllocatedError', new PortAllocatedError('port is already allocated'), 409, 'port is already allocated'],
  ['BlobNotFoundError', new BlobNotFoundError('sha256:00'), 404, 'content digest sha256:00: not found'],
  ['NoSuchLayerError', new NoSuchLayerError('sha256:11'), 404, 'layer does not exist: sha256:11'],
  ['InvalidChangeError', new InvalidChangeError('unknown change'), 400, 'unknown change'],
  ['RegistryError', new RegistryError('registry says 500', 500), 500, 'registry says 500'],
  ['RegistryUnreachableError', new RegistryUnreachableError('no route'), 503, 'no route'],
  ['RegistryUnauthorizedError', new RegistryUnauthorizedError('denied'), 401, 'denied'],
  ['RegistryNotFoundError', new RegistryNotFoundError('manifest unknown'), 404, 'manifest unknown'],
  ['MissingContextBlobError', new MissingContextBlobError('resend'), 409, 'resend'],
  ['OutsideContextError', new OutsideContextError('outside'), 400, 'outside'],
  ['SubstitutionError', new SubstitutionError('bad ${'), 400, 'bad ${'],
  ['DockerfileParseError', new DockerfileParseError('Dockerfile', 3, 'unknown instruction: FRM'), 400, 'dockerfile parse error line 3 of Dockerfile: unknown instruction: FRM'],
  ['BuildError', new BuildError('step failed'), 400, 'step failed'],
  ['DeadlineError', new DeadlineError('deadline'), 500, 'deadline'],
  ['PathNotFoundError', new PathNotFoundError('Could not find the file /x in container c'), 404, 'Could not find the file /x in container c'],
  ['NoSuchVolumeError', new NoSuchVolumeError('get v: no such volume'), 404, 'get v: no such volume'],
  ['VolumeInUseError', new VolumeInUseError('volume is in use'), 409, 'volume is in use'],
  ['PathSwappedError', new PathSwappedError('swapped'), 409, 'swapped'],
  ['PolicyRejectedError', new PolicyRejectedError('rejected'), 403, 'rejected'],
  ['InvalidPolicyError', new InvalidPolicyError('invalid policy'), 400, 'invalid policy'],
  ['KeyError', new KeyError('bad key'), 400, 'bad key'],
  // a category reached through `cause`, and what is not berth's
  ['wrapped NotFoundError', new Error('outer', { cause: new E.NotFoundError('inner') }), 404, 'outer'],
  ['TypeError', new TypeError('x is undefined'), 500, 'x is undefined'],
  ['a thrown string', 'nope', 500, 'internal error'],
  ['SQLITE_FULL', Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }), 500, 'write berth.db: no space left on device (the state database could not record the change)'],
];

test('every error class maps to its status and message (api/http-status.ts), through the server', async () => {
  const router = new Router();
  router.get('/boom/:i', (ctx) => {
    throw TABLE[Number(ctx.params.i)]![1];
  });
  const inject = injector(createApiServer({ router, log: silentLogger() }));
  for (const [i, [name, err, status, message]] of TABLE.entries()) {
    const r = await inject({ method: 'GET', url: `/v1.47/boom/${i}` });
    assert.equal(r.statusCode, status, name);
    assert.match(String(r.headers['content-type']), /^application\/json/, name);
    const body = r.json() as { message: string };
    if (name === 'CommandFailedError') assert.equal(body.message, (err as Error).message, name);
    else assert.equal(body.message, message, name);
  }
});

test('NotModified is a bare 304; an unknown path 404 and a known path with another method 400', async () => {
  const router = new Router();
  router.get('/same', () => {
    throw new E.NotModifiedError('');
  });
  const inject = injector(createApiServer({ router, log: silentLogger() }));
  let r = await inject({ method: 'GET', url: '/same' });
  assert.equal(r.statusCode, 304);
  assert.equal(r.body, '');
  r = await inject({ method: 'GET', url: '/nowhere' });
  assert.equal(r.statusCode, 404);
  assert.deepEqual(r.json(), { message: 'page not found' });
  r = await inject({ method: 'DELETE', url: '/same' });
  assert.equal(r.statusCode, 400);
  assert.deepEqual(r.json(), { message: 'method DELETE not allowed for /same' });
  r = await inject({ method: 'GET', url: '/v1.99/same' });
  assert.equal(r.statusCode, 400);
  assert.match((r.json() as { message: string }).message, /^client version 1\.99 is too new/);
});
