// The image module's public surface (STYLE.md §2: modules are imported through index.ts).
export { ImageService } from './image-service.js';
export type {
  ImageRecord, ImageSummary, ImageDetails, HistoryEntry, DeleteResponseItem, ImageUse, ImportOptions, RemoveOptions, ImageServiceOptions, CreateImageOptions,
} from './image-service.js';
export { Snapshotter, parseMountInfo } from './snapshotter.js';
export type { OverlayMount, SnapshotPaths, SnapshotterOptions } from './snapshotter.js';
export { ContentStore, BlobNotFoundError } from './content-store.js';
export type { BlobInfo, ContentProvider, ContentIngester, IngestOptions } from './content-store.js';
export { LayerStore, NoSuchLayerError, layerChainId } from './layer-store.js';
export type { LayerRecord, RegisterOptions } from './layer-store.js';
export { applyChanges, InvalidChangeError } from './changes.js';
export { ImageOps, pullVerifier } from './image-ops.js';
export type { ImageOpsDeps, ImageTrustCheck, ContainerConfigView } from './image-ops.js';
