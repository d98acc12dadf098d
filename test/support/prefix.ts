import { randomBytes } from 'node:crypto';

/**
 * A key prefix unique to one test file or suite, e.g. `/test/allocator-3f9a1c2b7d4e`, so that
 * test files sharing the global etcd never see each other's keys.
 */
export function uniquePrefix(label: string): string {
  const safe = label.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^-+|-+$/g, '') || 'test';
  return `/test/${safe}-${randomBytes(6).toString('hex')}`;
}
