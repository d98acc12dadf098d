// The plugin's contract, as libnetwork's `ipamapi` package is Docker's: the allocators' requests
// and replies, the error family, Docker's option names and the identifier rules. Plain types and
// values: no Nest, no etcd.
export * from './docker.js';
export * from './errors.js';
export * from './ids.js';
export * from './requests.js';
export * from './v6-ranges.js';
