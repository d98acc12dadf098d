import { Test } from '@nestjs/testing';
import { describe, expect, it } from 'vitest';

import { CleanupStore } from '#app/store';

import { CleanupModule } from './cleanup.module.js';
import { CleanupService } from './cleanup.service.js';
import {
  DOCKER_NETWORKS,
  DockerodeNetworks,
  type DockerNetworks,
} from './docker/docker-networks.js';

// The DI canary: resolves the providers through Nest as the app does, which fails when the
// decorator metadata (design:paramtypes) that constructor injection relies on is missing.
describe('CleanupModule', () => {
  it('should resolve the cleanup service with the store, the config and the Docker client', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        CleanupModule.forRoot({
          NODE_ID: 'canary',
          ETCD_ENDPOINT: 'http://127.0.0.1:1',
          DOCKER_HOST: 'tcp://127.0.0.1:2375',
        }),
      ],
    }).compile();
    try {
      expect(moduleRef.get(CleanupService)).toBeInstanceOf(CleanupService);
      expect(moduleRef.get(CleanupStore)).toBeInstanceOf(CleanupStore);
      const docker = moduleRef.get<DockerNetworks>(DOCKER_NETWORKS);
      expect(docker).toBeInstanceOf(DockerodeNetworks);
      expect(docker.where).toBe('tcp://127.0.0.1:2375');
    } finally {
      await moduleRef.close();
    }
  });
});
