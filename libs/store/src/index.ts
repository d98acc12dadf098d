export * from './errors.js';
export * from './keys.js';
export * from './records.js';
export * from './address-feed.js';
export * from './subnet-feed.js';
export * from './etcd-store.js';
export * from './store.module.js';
