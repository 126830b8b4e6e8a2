export * from './media-types.js';
export * from './image.js';
export * from './digest.js';
export * from './platform.js';
export * from './reference.js';
