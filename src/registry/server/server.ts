/**
 * berth's registry: the OCI distribution API (distribution-spec v1.1 `spec.md`) over HTTP with
 * filesystem storage (storage.ts).
 *
 * Endpoints: `GET /v2/` (version check), blobs (HEAD/GET with `Range`, DELETE), uploads
 * (monolithic `POST ?digest=`, `POST` + `PATCH`* + `PUT ?digest=`, `GET` status, `DELETE`
 * cancel, cross-repository `POST ?mount=&from=`), manifests (GET/HEAD/PUT/DELETE by tag and
 * digest; a manifest with a `subject` is answered with `OCI-Subject` and listed by the
 * referrers API `GET /v2/<name>/referrers/<digest>[?artifactType=]`), `tags/list` and
 * `_catalog` with `n`/`last` pagination. Errors are the spec's JSON
 * (`{"errors":[{"code":"BLOB_UNKNOWN",…}]}`).
 *
 * Safety: every digest is verified before a blob becomes visible; manifests are limited to
 * 4 MiB and must be JSON whose referenced blobs (or child manifests) exist; names and tags are
 * checked against the grammar before touching the disk. With an htpasswd file (bcrypt entries,
 * `htpasswd -B`), every request needs HTTP basic auth, as distribution's `htpasswd` auth.
 * A handler error never takes the server down: it becomes a 500 `UNKNOWN` error.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import bcrypt from 'bcryptjs';
import { RegistryStorage, isValidDigest, isValidName, isValidTag, isValidUploadId } from './storage.js';

/** Largest manifest accepted on PUT (distribution's default is 4 MiB too). */
export const MAX_MANIFEST_BYTES = 4 << 20;

export interface RegistryServerOptions {
  root: string;
  /** An htpasswd file (bcrypt entries); when set, basic auth is required. */
  htpasswd?: string;
  log?: (msg: string) => void;
}

const MANIFEST_TYPES = new Set([
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
]);

class RegistryHttpError extends Error {
  constructor(
    readonly status: number,
    readonly errCode: string,
    message: string,
    readonly detail?: unknown,
  ) {
    super(message);
  }
}

const err = {
  blobUnknown: (d: string) => new RegistryHttpError(404, 'BLOB_UNKNOWN', 'blob unknown to registry', { digest: d }),
  manifestUnknown: (r: string) => new RegistryHttpError(404, 'MANIFEST_UNKNOWN', 'manifest unknown', { reference: r }),
  nameUnknown: (n: string) => new RegistryHttpError(404, 'NAME_UNKNOWN', 'repository name not known to registry', { name: n }),
  nameInvalid: (n: string) => new RegistryHttpError(400, 'NAME_INVALID', 'invalid repository name', { name: n }),
  tagInvalid: (t: string) => new RegistryHttpError(400, 'TAG_INVALID', 'manifest tag did not match URI', { tag: t }),
  digestInvalid: (msg = 'provided digest did not match uploaded content') => new RegistryHttpError(400, 'DIGEST_INVALID', msg),
  uploadUnknown: () => new RegistryHttpError(404, 'BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry'),
  manifestInvalid: (msg: string) => new RegistryHttpError(400, 'MANIFEST_INVALID', `manifest invalid: ${msg}`),
  manifestBlobUnknown: (d: string) => new RegistryHttpError(400, 'MANIFEST_BLOB_UNKNOWN', 'blob unknown to registry', { digest: d }),
  sizeInvalid: (msg: string) => new RegistryHttpError(400, 'SIZE_INVALID', msg),
  unsupported: (msg = 'The operation is unsupported.') => new RegistryHttpError(405, 'UNSUPPORTED', msg),
  unauthorized: () => new RegistryHttpError(401, 'UNAUTHORIZED', 'authentication required'),
  rangeInvalid: () => new RegistryHttpError(416, 'RANGE_INVALID', 'invalid content range'),
};

type Route =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'tags'; name: string }
  | { kind: 'manifest'; name: string; ref: string }
  | { kind: 'referrers'; name: string; digest: string }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'uploads'; name: string }
  | { kind: 'upload'; name: string; id: string };

/** Splits a `/v2/…` path into a route; the repository name is everything before the last keyword. */
export function parseRoute(path: string): Route | undefined {
  if (path === '/v2/' || path === '/v2') return { kind: 'base' };
  if (path === '/v2/_catalog') return { kind: 'catalog' };
  if (!path.startsWith('/v2/')) return undefined;
  const rest = path.slice(4);
  let m: RegExpExecArray | null;
  if ((m = /^(.+)\/tags\/list$/.exec(rest))) return { kind: 'tags', name: m[1]! };
  if ((m = /^(.+)\/manifests\/([^/]+)$/.exec(rest))) return { kind: 'manifest', name: m[1]!, ref: m[2]! };
  if ((m = /^(.+)\/referrers\/([^/]+)$/.exec(rest))) return { kind: 'referrers', name: m[1]!, digest: m[2]! };
  if ((m = /^(.+)\/blobs\/uploads\/?$/.exec(rest))) return { kind: 'uploads', name: m[1]! };
  if ((m = /^(.+)\/blobs\/uploads\/([^/]+)$/.exec(rest))) return { kind: 'upload', name: m[1]!, id: m[2]! };
  if ((m = /^(.+)\/blobs\/([^/]+)$/.exec(rest))) return { kind: 'blob', name: m[1]!, digest: m[2]! };
  return undefined;
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) throw new RegistryHttpError(413, 'SIZE_INVALID', `manifest too large: more than ${limit} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

function sendError(res: ServerResponse, e: RegistryHttpError, head: boolean): void {
  const body = JSON.stringify({ errors: [{ code: e.errCode, message: e.message, detail: e.detail ?? {} }] });
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: Record<string, string | number> = { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) };
  if (e.status === 401) headers['WWW-Authenticate'] = 'Basic realm="berth-registry"';
  res.writeHead(e.status, headers);
  res.end(head ? undefined : body);
}

/** Parses an htpasswd file: `user:$2y$…` lines (bcrypt only, as distribution). */
export function parseHtpasswd(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const i = t.indexOf(':');
    if (i <= 0) continue;
    const hash = t.slice(i + 1);
    if (!/^\$2[aby]\$/.test(hash)) throw new Error(`htpasswd: user ${JSON.stringify(t.slice(0, i))} does not use bcrypt (make the file with "htpasswd -B")`);
    out.set(t.slice(0, i), hash.replace(/^\$2y\$/, '$2b$'));
  }
  return out;
}

/** Creates the registry's request handler (for tests) around an initialised storage. */
export function createRegistryHandler(storage: RegistryStorage, users?: Map<string, string>, log?: (m: string) => void) {
  // Verified credentials are cached (bcrypt is slow by design, and clients send them on every request).
  const okCache = new Set<string>();
  // An unknown user costs one bcrypt comparison too, against a hash of the same cost as the
  // file's: answering it faster would tell an attacker which user names exist (issue 24 item 8).
  let dummyHash: string | undefined;
  const dummy = (): string => {
    if (dummyHash) return dummyHash;
    const first = users?.values().next().value as string | undefined;
    const cost = Number(/^\$2[aby]\$(\d\d)\$/.exec(first ?? '')?.[1] ?? 10);
    dummyHash = bcrypt.hashSync(randomUUID(), cost);
    return dummyHash;
  };
  // Each upload belongs to the repository that started it: an upload ID is not a capability
  // for every repository (distribution ties it to the repository too). Uploads do not survive a
  // restart (storage drops them at start), so memory is the right place.
  const uploadRepo = new Map<string, string>();
  const authorised = async (req: IncomingMessage): Promise<boolean> => {
    if (!users) return true;
    const h = req.headers.authorization ?? '';
    if (!h.startsWith('Basic ')) return false;
    if (okCache.has(h)) return true;
    const decoded = Buffer.from(h.slice(6), 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i < 0) return false;
    const hash = users.get(decoded.slice(0, i));
    const match = await bcrypt.compare(decoded.slice(i + 1), hash ?? dummy());
    if (!hash || !match) return false;
    okCache.add(h);
    return true;
  };

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://registry');
    const method = req.method ?? 'GET';
    const head = method === 'HEAD';
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    try {
      const route = parseRoute(url.pathname);
      if (!route) throw new RegistryHttpError(404, 'NOT_FOUND', 'page not found');
      if (!(await authorised(req))) throw err.unauthorized();
      await handle(route, req, res, url, method, head);
    } catch (e) {
      req.resume();
      if (e instanceof RegistryHttpError) sendError(res, e, head);
      else {
        log?.(`${method} ${url.pathname}: ${(e as Error).stack ?? String(e)}`);
        sendError(res, new RegistryHttpError(500, 'UNKNOWN', `unknown error: ${(e as Error).message}`), head);
      }
    }
  };

  async function handle(route: Route, req: IncomingMessage, res: ServerResponse, url: URL, method: string, head: boolean): Promise<void> {
    if (route.kind === 'base') {
      if (method !== 'GET' && method !== 'HEAD') throw err.unsupported();
      return json(res, 200, {}, head);
    }
    if (route.kind === 'catalog') {
      const all = await storage.catalog();
      return paginate(res, url, all, (page) => ({ repositories: page }), '/v2/_catalog');
    }
    const name = route.name;
    if (!isValidName(name)) throw err.nameInvalid(name);
    switch (route.kind) {
      case 'tags': {
        if (!(await storage.repoExists(name))) throw err.nameUnknown(name);
        const tags = await storage.tags(name);
        return paginate(res, url, tags, (page) => ({ name, tags: page }), `/v2/${name}/tags/list`);
      }
      case 'manifest':
        return manifest(route.name, route.ref, req, res, method, head);
      case 'referrers': {
        // distribution-spec 1.1 "Listing Referrers": an image index, 200 even when none.
        if (method !== 'GET' && method !== 'HEAD') throw err.unsupported();
        if (!isValidDigest(route.digest)) throw err.digestInvalid('invalid digest');
        const artifactType = url.searchParams.get('artifactType');
        let list = await storage.referrers(name, route.digest);
        const extra: Record<string, string> = {};
        if (artifactType !== null) {
          list = list.filter((d) => d.artifactType === artifactType);
          extra['OCI-Filters-Applied'] = 'artifactType';
        }
        return json(res, 200, { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: list }, head, { ...extra, 'Content-Type': 'application/vnd.oci.image.index.v1+json' });
      }
      case 'blob': {
        if (!isValidDigest(route.digest)) throw err.digestInvalid('invalid digest');
        if (method === 'DELETE') {
          if (!(await storage.unlinkBlob(name, route.digest))) throw err.blobUnknown(route.digest);
          res.writeHead(202, { 'Content-Length': 0 });
          return void res.end();
        }
        if (method !== 'GET' && method !== 'HEAD') throw err.unsupported();
        const size = await storage.repoBlobSize(name, route.digest);
        if (size === undefined) throw err.blobUnknown(route.digest);
        const headers: Record<string, string | number> = {
          'Content-Type': 'application/octet-stream',
          'Docker-Content-Digest': route.digest,
          'Accept-Ranges': 'bytes',
          ETag: `"${route.digest}"`,
        };
        const range = req.headers.range;
        if (range && !head) {
          const m = /^bytes=(\d*)-(\d*)$/.exec(range);
          if (!m || (m[1] === '' && m[2] === '')) throw err.rangeInvalid();
          let start = m[1] === '' ? size - Number(m[2]) : Number(m[1]);
          let end = m[1] === '' || m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
          if (start < 0) start = 0;
          if (start > end || start >= size) {
            res.writeHead(416, { 'Content-Range': `bytes */${size}` });
            return void res.end();
          }
          res.writeHead(206, { ...headers, 'Content-Length': end - start + 1, 'Content-Range': `bytes ${start}-${end}/${size}` });
          return pipeTo(storage.blobReader(route.digest, { start, end }), res);
        }
        res.writeHead(200, { ...headers, 'Content-Length': size });
        if (head) return void res.end();
        return pipeTo(storage.blobReader(route.digest), res);
      }
      case 'uploads': {
        if (method !== 'POST') throw err.unsupported();
        const mount = url.searchParams.get('mount');
        const from = url.searchParams.get('from');
        if (mount && from && isValidDigest(mount) && isValidName(from)) {
          const size = await storage.repoBlobSize(from, mount);
          if (size !== undefined) {
            req.resume();
            await storage.link(name, mount);
            res.writeHead(201, { Location: `/v2/${name}/blobs/${mount}`, 'Docker-Content-Digest': mount, 'Content-Length': 0 });
            return void res.end();
          }
        }
        const digest = url.searchParams.get('digest');
        const id = await storage.startUpload();
        uploadRepo.set(id, name);
        if (digest) {
          // Monolithic upload: the whole blob in this POST.
          if (!isValidDigest(digest)) {
            uploadRepo.delete(id);
            await storage.cancelUpload(id);
            throw err.digestInvalid('invalid digest');
          }
          await storage.appendUpload(id, req);
          return finish(name, id, digest, res);
        }
        req.resume();
        res.writeHead(202, { Location: `/v2/${name}/blobs/uploads/${id}`, Range: '0-0', 'Docker-Upload-UUID': id, 'Content-Length': 0 });
        return void res.end();
      }
      case 'upload': {
        const id = route.id;
        if (!isValidUploadId(id) || uploadRepo.get(id) !== name) throw err.uploadUnknown();
        const size = await storage.uploadSize(id);
        if (size === undefined) throw err.uploadUnknown();
        const rangeHeader = (n: number) => (n > 0 ? `0-${n - 1}` : '0-0');
        if (method === 'GET') {
          res.writeHead(204, { Location: `/v2/${name}/blobs/uploads/${id}`, Range: rangeHeader(size), 'Docker-Upload-UUID': id });
          return void res.end();
        }
        if (method === 'DELETE') {
          uploadRepo.delete(id);
          await storage.cancelUpload(id);
          res.writeHead(204);
          return void res.end();
        }
        if (method === 'PATCH' || method === 'PUT') {
          const cr = req.headers['content-range'];
          if (cr && method === 'PATCH') {
            const m = /^(?:bytes )?(\d+)-(\d+)$/.exec(cr);
            if (!m || Number(m[1]) !== size) {
              req.resume();
              res.writeHead(416, { Location: `/v2/${name}/blobs/uploads/${id}`, Range: rangeHeader(size) });
              return void res.end();
            }
          }
          const newSize = await storage.appendUpload(id, req);
          if (method === 'PATCH') {
            res.writeHead(202, { Location: `/v2/${name}/blobs/uploads/${id}`, Range: rangeHeader(newSize), 'Docker-Upload-UUID': id, 'Content-Length': 0 });
            return void res.end();
          }
          const digest = url.searchParams.get('digest');
          if (!digest || !isValidDigest(digest)) {
            uploadRepo.delete(id);
            await storage.cancelUpload(id);
            throw err.digestInvalid('digest missing or invalid');
          }
          return finish(name, id, digest, res);
        }
        throw err.unsupported();
      }
    }
  }

  async function finish(name: string, id: string, digest: string, res: ServerResponse): Promise<void> {
    uploadRepo.delete(id);
    if (!(await storage.commitUpload(id, digest))) throw err.digestInvalid();
    await storage.link(name, digest);
    res.writeHead(201, { Location: `/v2/${name}/blobs/${digest}`, 'Docker-Content-Digest': digest, 'Content-Length': 0 });
    res.end();
  }

  async function manifest(name: string, ref: string, req: IncomingMessage, res: ServerResponse, method: string, head: boolean): Promise<void> {
    const byDigest = ref.startsWith('sha256:') || ref.includes(':');
    if (byDigest ? !isValidDigest(ref) : !isValidTag(ref)) {
      if (byDigest) throw err.digestInvalid('invalid digest');
      throw err.tagInvalid(ref);
    }
    if (method === 'PUT') {
      const data = await readBody(req, MAX_MANIFEST_BYTES);
      const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
      if (byDigest && digest !== ref) throw err.digestInvalid();
      let parsed: { schemaVersion?: number; mediaType?: string; artifactType?: string; config?: { digest?: string; mediaType?: string }; layers?: { digest?: string }[]; manifests?: { digest?: string }[]; subject?: { digest?: string }; annotations?: Record<string, string> };
      try {
        parsed = JSON.parse(data.toString('utf8'));
      } catch {
        throw err.manifestInvalid('not JSON');
      }
      if (!parsed || typeof parsed !== 'object' || parsed.schemaVersion !== 2) throw err.manifestInvalid('schemaVersion must be 2');
      const ct = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
      const mediaType = MANIFEST_TYPES.has(ct) ? ct : parsed.mediaType ?? (parsed.manifests ? 'application/vnd.oci.image.index.v1+json' : 'application/vnd.oci.image.manifest.v1+json');
      if (!MANIFEST_TYPES.has(mediaType)) throw err.manifestInvalid(`unsupported media type ${JSON.stringify(mediaType)}`);
      if (Array.isArray(parsed.manifests)) {
        for (const m of parsed.manifests) {
          if (!m?.digest || !isValidDigest(m.digest) || !(await storage.getManifest(name, m.digest))) throw err.manifestBlobUnknown(String(m?.digest));
        }
      } else {
        const refs = [parsed.config, ...(Array.isArray(parsed.layers) ? parsed.layers : [])];
        if (!parsed.config) throw err.manifestInvalid('no config');
        for (const d of refs) {
          if (!d?.digest || !isValidDigest(d.digest) || (await storage.repoBlobSize(name, d.digest)) === undefined) throw err.manifestBlobUnknown(String(d?.digest));
        }
      }
      const subject = parsed.subject;
      if (subject !== undefined && (!subject || typeof subject.digest !== 'string' || !isValidDigest(subject.digest))) throw err.manifestInvalid('invalid subject');
      await storage.putManifest(name, digest, mediaType, data, byDigest ? undefined : ref);
      const headers: Record<string, string | number> = { Location: `/v2/${name}/manifests/${digest}`, 'Docker-Content-Digest': digest, 'Content-Length': 0 };
      if (subject?.digest) {
        // The subject need not exist yet (spec); the referrers index is kept beside it.
        const artifactType = typeof parsed.artifactType === 'string' ? parsed.artifactType : parsed.config?.mediaType;
        await storage.addReferrer(name, subject.digest, {
          mediaType,
          digest,
          size: data.length,
          ...(artifactType ? { artifactType } : {}),
          ...(parsed.annotations && typeof parsed.annotations === 'object' ? { annotations: parsed.annotations } : {}),
        });
        headers['OCI-Subject'] = subject.digest;
      }
      res.writeHead(201, headers);
      return void res.end();
    }
    if (method === 'DELETE') {
      if (!byDigest) {
        if (!(await storage.deleteTag(name, ref))) throw err.manifestUnknown(ref);
      } else if (!(await storage.deleteManifest(name, ref))) throw err.manifestUnknown(ref);
      res.writeHead(202, { 'Content-Length': 0 });
      return void res.end();
    }
    if (method !== 'GET' && method !== 'HEAD') throw err.unsupported();
    const digest = byDigest ? ref : await storage.resolveTag(name, ref);
    if (!digest) {
      if (!(await storage.repoExists(name))) throw err.nameUnknown(name);
      throw err.manifestUnknown(ref);
    }
    const m = await storage.getManifest(name, digest);
    if (!m) throw err.manifestUnknown(ref);
    res.writeHead(200, { 'Content-Type': m.mediaType, 'Content-Length': m.data.length, 'Docker-Content-Digest': digest, ETag: `"${digest}"` });
    res.end(head ? undefined : m.data);
  }
}

function json(res: ServerResponse, status: number, body: unknown, head = false, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...extra });
  res.end(head ? undefined : text);
}

function paginate(res: ServerResponse, url: URL, all: string[], wrap: (page: string[]) => unknown, path: string): void {
  const last = url.searchParams.get('last');
  const nRaw = url.searchParams.get('n');
  let list = last ? all.filter((x) => x > last) : all;
  const extra: Record<string, string> = {};
  if (nRaw !== null) {
    const n = Number(nRaw);
    if (!Number.isInteger(n) || n < 0) throw new RegistryHttpError(400, 'PAGINATION_NUMBER_INVALID', 'invalid number of results requested');
    if (list.length > n) {
      list = list.slice(0, n);
      if (n > 0) extra.Link = `<${path}?n=${n}&last=${encodeURIComponent(list[list.length - 1]!)}>; rel="next"`;
    }
  }
  json(res, 200, wrap(list), false, extra);
}

function pipeTo(src: NodeJS.ReadableStream & { on: Function; destroy?: Function }, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    src.on('error', () => {
      res.destroy();
      resolve();
    });
    res.on('close', () => {
      (src as { destroy?: () => void }).destroy?.();
      resolve();
    });
    src.pipe(res);
  });
}

/** Starts a registry server on `host:port`; resolves once listening. */
export async function startRegistryServer(options: RegistryServerOptions & { host: string; port: number }): Promise<Server> {
  const storage = new RegistryStorage(options.root);
  await storage.init();
  const users = options.htpasswd ? parseHtpasswd(await readFile(options.htpasswd, 'utf8')) : undefined;
  const handler = createRegistryHandler(storage, users, options.log);
  const server = createServer((req, res) => void handler(req, res));
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return server;
}
