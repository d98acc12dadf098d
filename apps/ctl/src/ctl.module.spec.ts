import { Test } from '@nestjs/testing';
import { describe, expect, it } from 'vitest';

import { CleanupStore, PlanStore } from '#app/store';

import { DockerodeNetworks } from '../../cleanup/src/docker/docker-networks.js';
import { CtlModule } from './ctl.module.js';

// The DI canary of the ctl: its providers resolve through Nest as the commands resolve them.
describe('CtlModule', () => {
  it('should resolve the plan and cleanup stores and the Docker client a command adds', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        CtlModule.forRoot([DockerodeNetworks], {
          NODE_ID: 'canary',
          ETCD_ENDPOINT: 'http://127.0.0.1:1',
        }),
      ],
    }).compile();
    try {
      expect(moduleRef.get(PlanStore)).toBeInstanceOf(PlanStore);
      expect(moduleRef.get(CleanupStore)).toBeInstanceOf(CleanupStore);
      expect(moduleRef.get(DockerodeNetworks).where).toBe('unix:///var/run/docker.sock');
    } finally {
      await moduleRef.close();
    }
  });
});
