/**
 * The one wrapper around @grpc/grpc-js and @grpc/proto-loader: loads the vendored CRI
 * `api.proto` (proto/SOURCE.md) and serves `runtime.v1.RuntimeService` and
 * `runtime.v1.ImageService` on a UNIX socket. Handlers are plain async functions from a decoded
 * request object to a response object (field names in lowerCamelCase, int64 as decimal strings,
 * enums as their names); errors thrown by them become gRPC statuses by their berth category.
 * Methods without a handler answer UNIMPLEMENTED (what the kubelet expects of optional calls).
 */
import { chmod, mkdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { startAuthorityProxy } from './authority-proxy.js';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { BerthError, ConflictError, ForbiddenError, InvalidParameterError, isCategory, NotFoundError, NotImplementedError, NotModifiedError, UnauthorizedError, UnavailableError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';

/** A decoded message (proto-loader's plain-object form). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Message = Record<string, any>;
export type UnaryHandler = (request: Message) => Promise<Message>;
export type StreamHandler = (request: Message, write: (m: Message) => void, signal: AbortSignal) => Promise<void>;

export interface CriHandlers {
  runtime: Record<string, UnaryHandler | StreamHandler>;
  image: Record<string, UnaryHandler>;
  /** Names of server-streaming methods among `runtime`. */
  streaming?: Set<string>;
}

/** Path of the vendored proto, found from this file in src/ or dist/src/. */
function protoPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const rel = here.includes('/dist/') ? '../../../src/cri/proto/api.proto' : './proto/api.proto';
  return fileURLToPath(new URL(rel, `file://${here}/`));
}

let loaded: grpc.GrpcObject | undefined;
function runtimePackage(): grpc.GrpcObject {
  if (!loaded) {
    const def = protoLoader.loadSync(protoPath(), { keepCase: false, longs: String, enums: String, defaults: true, oneofs: true });
    loaded = grpc.loadPackageDefinition(def);
  }
  return (loaded['runtime'] as grpc.GrpcObject)['v1'] as grpc.GrpcObject;
}

/** The gRPC status for an error, by its berth category (containerd's errdefs → gRPC mapping). */
export function grpcStatus(err: unknown): grpc.status {
  if (isCategory(err, NotFoundError)) return grpc.status.NOT_FOUND;
  if (isCategory(err, InvalidParameterError)) return grpc.status.INVALID_ARGUMENT;
  if (isCategory(err, NotModifiedError) || isCategory(err, ConflictError)) return grpc.status.FAILED_PRECONDITION;
  if (isCategory(err, UnauthorizedError)) return grpc.status.UNAUTHENTICATED;
  if (isCategory(err, ForbiddenError)) return grpc.status.PERMISSION_DENIED;
  if (isCategory(err, NotImplementedError)) return grpc.status.UNIMPLEMENTED;
  if (isCategory(err, UnavailableError)) return grpc.status.UNAVAILABLE;
  if (err instanceof DeadlineError) return grpc.status.DEADLINE_EXCEEDED;
  return grpc.status.UNKNOWN;
}

/** An operation ran past the deadline the client gave (ExecSync's timeout). */
export class DeadlineError extends BerthError {
  override readonly code: string = 'BERTH_ERR_DEADLINE';
}

export interface CriGrpcServer {
  close(): Promise<void>;
}

/** Serves the handlers on `socketPath` (made 0660, the directory created). */
export async function serveCri(socketPath: string, handlers: CriHandlers, log: Logger): Promise<CriGrpcServer> {
  const pkg = runtimePackage();
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 16 << 20, 'grpc.max_send_message_length': 16 << 20 });
  const wrap = (service: string, impl: Record<string, UnaryHandler | StreamHandler>): grpc.UntypedServiceImplementation => {
    const out: grpc.UntypedServiceImplementation = {};
    for (const [name, fn] of Object.entries(impl)) {
      const method = name.charAt(0).toUpperCase() + name.slice(1);
      if (handlers.streaming?.has(name)) {
        out[method] = ((call: grpc.ServerWritableStream<Message, Message>) => {
          const ac = new AbortController();
          call.on('cancelled', () => ac.abort());
          (fn as StreamHandler)(call.request, (m) => call.write(m), ac.signal).then(
            () => call.end(),
            (err: unknown) => call.destroy(toServiceError(err, `${service}/${method}`, log)),
          );
        }) as grpc.handleServerStreamingCall<Message, Message>;
      } else {
        out[method] = ((call: grpc.ServerUnaryCall<Message, Message>, cb: grpc.sendUnaryData<Message>) => {
          const t0 = performance.now();
          (fn as UnaryHandler)(call.request).then(
            (res) => {
              // Per-call timing at debug level: where pod start time goes (bench/README.md, issue 18).
              log.debug({ method: `${service}/${method}`, ms: Math.round((performance.now() - t0) * 10) / 10 }, 'CRI request');
              cb(null, res);
            },
            (err: unknown) => cb(toServiceError(err, `${service}/${method}`, log)),
          );
        }) as grpc.handleUnaryCall<Message, Message>;
      }
    }
    return out;
  };
  const runtimeSvc = (pkg['RuntimeService'] as grpc.ServiceClientConstructor).service;
  const imageSvc = (pkg['ImageService'] as grpc.ServiceClientConstructor).service;
  server.addService(runtimeSvc, wrap('RuntimeService', handlers.runtime));
  server.addService(imageSvc, wrap('ImageService', handlers.image));
  await mkdir(dirname(socketPath), { recursive: true });
  await rm(socketPath, { force: true });
  // gRPC itself listens on a private socket; the public one is the authority-rewriting front
  // door (authority-proxy.ts says why).
  const privateDir = join(dirname(socketPath), `.${basename(socketPath)}.d`);
  await rm(privateDir, { recursive: true, force: true });
  await mkdir(privateDir, { mode: 0o700 });
  const privatePath = join(privateDir, 'grpc.sock');
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(`unix://${privatePath}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve()));
  });
  const proxy = await startAuthorityProxy(socketPath, privatePath);
  await chmod(socketPath, 0o660);
  return {
    async close() {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000);
        server.tryShutdown(() => {
          clearTimeout(t);
          resolve();
        });
      });
      await proxy.close();
      await rm(socketPath, { force: true });
      await rm(privateDir, { recursive: true, force: true });
    },
  };
}

function toServiceError(err: unknown, method: string, log: Logger): grpc.ServiceError {
  const code = grpcStatus(err);
  if (code === grpc.status.UNKNOWN) log.warn({ err, method }, 'CRI request failed');
  else log.debug({ err, method }, 'CRI request failed');
  const e = new Error((err as Error)?.message ?? String(err)) as grpc.ServiceError;
  e.code = code;
  e.details = e.message;
  e.metadata = new grpc.Metadata();
  return e;
}

/** A client for tests (the same proto): `call(service, method, request)`. */
export function criTestClient(socketPath: string): { call(service: 'RuntimeService' | 'ImageService', method: string, req?: Message): Promise<Message>; close(): void } {
  const pkg = runtimePackage();
  const mk = (name: string): grpc.Client => new (pkg[name] as grpc.ServiceClientConstructor)(`unix://${socketPath}`, grpc.credentials.createInsecure());
  const clients = { RuntimeService: mk('RuntimeService'), ImageService: mk('ImageService') };
  return {
    call(service, method, req = {}) {
      const c = clients[service] as unknown as Record<string, (r: Message, cb: (e: grpc.ServiceError | null, r: Message) => void) => void>;
      return new Promise((resolve, reject) => c[method]!.call(c, req, (e, r) => (e ? reject(e) : resolve(r))));
    },
    close() {
      clients.RuntimeService.close();
      clients.ImageService.close();
    },
  };
}
