import { IpamMetrics } from './ipam-metrics.js';

/**
 * The metrics of this process. One registry for the whole process, as Prometheus sees one
 * process: the store, the allocator and the socket server record into it from wherever they
 * run (the cleanup and the ctl too, where nobody scrapes it: a few counters, no cost).
 */
export const METRICS = new IpamMetrics();
