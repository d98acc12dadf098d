export * from './free-set.js';
export * from './host-networks.js';
export * from './deadline.js';
export * from './pool-allocator.js';
export * from './address-allocator.js';
export * from './pool-states.js';
export * from './allocator.module.js';
