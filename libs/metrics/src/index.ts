// The plugin's Prometheus metrics: one registry per process, recorded by the store, the
// allocator and the socket server, served by the health listener.
export {
  IpamMetrics,
  type PoolSample,
  type SupernetSample,
  type TxnResult,
} from './ipam-metrics.js';
export { METRICS } from './process-metrics.js';
