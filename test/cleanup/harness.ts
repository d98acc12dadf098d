import { Test } from '@nestjs/testing';

import { CleanupModule } from '../../apps/cleanup/src/cleanup.module.js';
import { CleanupService } from '../../apps/cleanup/src/cleanup.service.js';
import type { CleanupOptions } from '../../apps/cleanup/src/cli.js';
import {
  DOCKER_NETWORKS,
  DockerUnavailable,
  type DockerNetwork,
  type DockerNetworks,
} from '../../apps/cleanup/src/docker/docker-networks.js';
import type { DockerPlugin } from '../../apps/cleanup/src/docker/driver-names.js';
import type { CleanupReport } from '../../apps/cleanup/src/report.js';

/**
 * Docker as the cleanup sees it, set by the test. `onList` runs when the pass lists the
 * networks, i.e. after it recorded its revision and quiesced: the place to race it.
 */
export class FakeDocker implements DockerNetworks {
  readonly where = 'unix:///fake/docker.sock';
  networks: DockerNetwork[] = [];
  /** The managed plugins `GET /plugins` lists. */
  installed: DockerPlugin[] = [];
  down = false;
  onList?: () => Promise<void>;
  pings = 0;
  lists = 0;

  ping(): Promise<void> {
    this.pings++;
    return this.down
      ? Promise.reject(new DockerUnavailable(`Docker is unreachable at ${this.where}: down`))
      : Promise.resolve();
  }

  plugins(): Promise<DockerPlugin[]> {
    return Promise.resolve(this.installed);
  }

  async list(): Promise<DockerNetwork[]> {
    this.lists++;
    await this.onList?.();
    if (this.down) {
      throw new DockerUnavailable(`Docker is unreachable at ${this.where}: down`);
    }
    return this.networks;
  }
}

/** A Docker network of the plugin (driver `kontena-ipam` unless given). */
export function dockerNetwork(name: string, partial: Partial<DockerNetwork> = {}): DockerNetwork {
  return {
    id: `id-${name}`,
    name,
    ipamDriver: 'kontena-ipam',
    configs: [],
    endpoints: [],
    ...partial,
  };
}

export interface CleanupRunner {
  service: CleanupService;
  run(options?: Partial<CleanupOptions>, signal?: AbortSignal): Promise<CleanupReport>;
  close(): Promise<void>;
}

/** The cleanup's real module on a real etcd, with Docker replaced by `docker`. */
export async function startCleanup(opts: {
  nodeId: string;
  endpoints: string[];
  prefix: string;
  docker: DockerNetworks;
  env?: Record<string, string>;
}): Promise<CleanupRunner> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      CleanupModule.forRoot({
        NODE_ID: opts.nodeId,
        ETCD_ENDPOINT: opts.endpoints.join(','),
        ETCD_PREFIX: opts.prefix,
        ETCD_WAIT_TIMEOUT: '10',
        ...opts.env,
      }),
    ],
  })
    .overrideProvider(DOCKER_NETWORKS)
    .useValue(opts.docker)
    .compile();
  moduleRef.useLogger(false);
  await moduleRef.init();
  const service = moduleRef.get(CleanupService);
  return {
    service,
    run: (options = {}, signal = new AbortController().signal) =>
      service.run(
        {
          dryRun: false,
          quiesceSeconds: 0,
          yes: false,
          force: false,
          json: false,
          ...options,
        },
        signal,
      ),
    close: () => moduleRef.close(),
  };
}
