/**
 * `runtime.v1.ImageService` over berth's image store: the images the kubelet pulls are the
 * ones `berth images` lists, and the reverse. CRI names images fully qualified
 * (`docker.io/library/busybox:latest`), berth's store familiar (`busybox:latest`): converted
 * here, both ways.
 */
import { statfs } from 'node:fs/promises';
import { InvalidParameterError, isNotFound } from '../common/errors.js';
import type { ImageService } from '../image/image-service.js';
import { parseReference, withDefaultTag, formatReference } from '../oci/reference.js';
import type { Message } from './grpc.js';

export interface ImageHandlerDeps {
  images: ImageService;
  /** Pulls `ref` (fully qualified) with the auth the kubelet passed, through berth's registry client and mirrors. */
  pull(ref: string, auth?: { username?: string; password?: string; auth?: string; serveraddress?: string; identitytoken?: string; registrytoken?: string }): Promise<void>;
  /** Whether a container uses the image (removal then only untags). */
  isInUse(imageId: string): boolean;
  /** Where image content lives (ImageFsInfo). */
  imageRoot: string;
}

/** `busybox:latest` → `docker.io/library/busybox:latest`; digests likewise. */
export function qualify(familiar: string): string {
  try {
    return formatReference(parseReference(familiar));
  } catch {
    return familiar;
  }
}

export function imageHandlers(d: ImageHandlerDeps): Record<string, (req: Message) => Promise<Message>> {
  const lookup = (ref: string): ReturnType<ImageService['resolve']> | undefined => {
    try {
      return d.images.resolve(ref);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  };
  const describe = async (id: string): Promise<Message> => {
    const img = await d.images.inspect(id);
    const user: string = img.config.config?.User ?? '';
    const userPart = user.split(':')[0] ?? '';
    const uid = /^\d+$/.test(userPart) ? { value: userPart } : null;
    return {
      id: img.id,
      repoTags: img.repoTags.filter((t) => t !== '<none>:<none>').map(qualify),
      repoDigests: img.repoDigests.filter((t) => t !== '<none>@<none>').map(qualify),
      size: String(img.size),
      uid,
      username: uid ? '' : userPart,
      spec: { image: img.id, annotations: {}, userSpecifiedImage: '', runtimeHandler: '' },
      pinned: false,
    };
  };
  return {
    async listImages(req) {
      const want: string = req['filter']?.['image']?.['image'] ?? '';
      const wantId = want ? lookup(want)?.id : undefined;
      if (want && !wantId) return { images: [] };
      const out: Message[] = [];
      for (const s of await d.images.list()) {
        if (wantId && s.id !== wantId) continue;
        out.push(await describe(s.id));
      }
      return { images: out };
    },
    async imageStatus(req) {
      const ref: string = req['image']?.['image'] ?? '';
      if (!ref) return { image: null, info: {} };
      const rec = lookup(ref);
      if (!rec) return { image: null, info: {} };
      const image = await describe(rec.id);
      const info: Record<string, string> = {};
      if (req['verbose']) {
        const img = await d.images.inspect(rec.id);
        info['info'] = JSON.stringify({ imageSpec: { config: img.config.config ?? {}, rootfs: img.config.rootfs, created: img.created }, chainID: d.images.get(rec.id)?.chainIds.at(-1) ?? '' });
      }
      return { image, info };
    },
    async pullImage(req) {
      const ref: string = req['image']?.['image'] ?? '';
      if (!ref) throw new InvalidParameterError('PullImage: no image given');
      const parsed = parseReference(ref);
      const full = formatReference(parsed.digest ? parsed : withDefaultTag(parsed));
      const a = req['auth'] as Message | null;
      const auth = a && (a['username'] || a['auth'] || a['identityToken'] || a['registryToken'])
        ? {
            ...(a['username'] ? { username: a['username'] as string, password: a['password'] as string } : {}),
            ...(a['auth'] ? { auth: a['auth'] as string } : {}),
            ...(a['serverAddress'] ? { serveraddress: a['serverAddress'] as string } : {}),
            ...(a['identityToken'] ? { identitytoken: a['identityToken'] as string } : {}),
            ...(a['registryToken'] ? { registrytoken: a['registryToken'] as string } : {}),
          }
        : undefined;
      await d.pull(full, auth);
      return { imageRef: d.images.resolve(full).id };
    },
    async removeImage(req) {
      const ref: string = req['image']?.['image'] ?? '';
      const rec = ref ? lookup(ref) : undefined;
      // CRI: removing an image that is not there is not an error.
      if (!rec) return {};
      // The image goes with all its names (containerd does the same); a container still using
      // it keeps its layers, as with `docker rmi -f`.
      await d.images.remove(rec.id, { force: true, isInUse: (id) => d.isInUse(id) });
      return {};
    },
    async imageFsInfo() {
      const st = await statfs(d.imageRoot).catch(() => undefined);
      const used = st ? String((st.blocks - st.bfree) * st.bsize) : '0';
      const inodes = st ? String(st.files - st.ffree) : '0';
      const fs = { timestamp: String(BigInt(Date.now()) * 1_000_000n), fsId: { mountpoint: d.imageRoot }, usedBytes: { value: used }, inodesUsed: { value: inodes } };
      return { imageFilesystems: [fs], containerFilesystems: [] };
    },
  };
}
