// The build module's public surface: Dockerfile builds with a layer cache.
export { Builder, BuildError } from './builder.js';
export type { BuildOptions, BuilderOptions } from './builder.js';
export { receiveContext, BuildContext, OutsideContextError, cleanPath } from './build-context.js';
export type { ContextEntry } from './build-context.js';
export { BuildCache, cacheKey } from './cache.js';
export * from './dockerfile/index.js';
