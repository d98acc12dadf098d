import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// SWC keeps decorator metadata (design:paramtypes) that Nest's constructor injection needs;
// the "source" condition maps the #app/* subpath imports to the TypeScript sources.
const shared = {
  plugins: [swc.vite({ module: { type: 'es6' } })],
  resolve: { conditions: ['source', 'node', 'default'] },
  ssr: { resolve: { conditions: ['source', 'node', 'default'] } },
};

export default defineConfig({
  test: {
    env: { TZ: 'UTC' },
    projects: [
      {
        ...shared,
        test: {
          name: 'unit',
          include: ['apps/**/*.spec.ts', 'libs/**/*.spec.ts'],
          environment: 'node',
          setupFiles: ['test/setup/unit.setup.ts'],
        },
      },
      {
        ...shared,
        test: {
          name: 'int',
          include: ['test/**/*.int-spec.ts'],
          environment: 'node',
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
          globalSetup: ['test/setup/etcd.global.ts'],
        },
      },
      {
        ...shared,
        test: {
          name: 'e2e',
          include: ['test/**/*.e2e-spec.ts'],
          environment: 'node',
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
          globalSetup: ['test/setup/etcd.global.ts'],
        },
      },
    ],
  },
});
