import { Module, type DynamicModule } from '@nestjs/common';

import { IpamConfigModule } from '#app/config';
import { StoreModule } from '#app/store';

import { CleanupService } from './cleanup.service.js';
import { DOCKER_NETWORKS, DockerodeNetworks } from './docker/docker-networks.js';

/** The cleanup: etcd through the store, the local Docker daemon through dockerode. */
@Module({})
export class CleanupModule {
  /** `env` is handed to the config lib unread; it validates it (throws ConfigError). */
  static forRoot(env?: NodeJS.ProcessEnv): DynamicModule {
    return {
      module: CleanupModule,
      imports: [IpamConfigModule.forRoot(env), StoreModule],
      providers: [CleanupService, { provide: DOCKER_NETWORKS, useClass: DockerodeNetworks }],
      exports: [CleanupService],
    };
  }
}
