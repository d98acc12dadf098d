export * from './free-set.js';
export * from './host-routes.js';
export * from './pool-allocator.js';
export * from './address-allocator.js';
export * from './allocator.module.js';
