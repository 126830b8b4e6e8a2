/** OCI image-spec and Docker schema2 media types (image-spec `media-types.md`). */
export const MEDIA_TYPE = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

export type MediaType = (typeof MEDIA_TYPE)[keyof typeof MEDIA_TYPE];

/** True for the index / manifest-list media types. */
export function isIndexMediaType(mt: string): boolean {
  return mt === MEDIA_TYPE.ociIndex || mt === MEDIA_TYPE.dockerManifestList;
}

/** True for the single-platform manifest media types. */
export function isManifestMediaType(mt: string): boolean {
  return mt === MEDIA_TYPE.ociManifest || mt === MEDIA_TYPE.dockerManifest;
}
