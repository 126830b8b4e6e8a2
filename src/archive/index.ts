// The archive module's public surface: tar in (the checked reader for untrusted archives) and
// tar out (a directory as a layer). Imported by image, build, volume, engine and api alike.
export { TarReader, type TarHeader, type TarEntrySink } from './tar-reader.js';
export { scanLayerTar, ScanState, checkingReader, normaliseEntryName, entryType, decompress, type LayerTarScan } from './checked-tar.js';
export { diffLayer, opaqueDirs, isEmptyDir, type DiffLayerOptions } from './diff-layer.js';
