import { Test, type TestingModule } from '@nestjs/testing';

import { CtlModule } from '../../apps/ctl/src/ctl.module.js';

/** The ctl's application (its stores) for NODE_ID `nodeId` on a real etcd, initialised. */
export async function startCtl(
  endpoints: string[],
  prefix: string,
  nodeId = 'ctl',
): Promise<TestingModule> {
  const ctl = await Test.createTestingModule({
    imports: [
      CtlModule.forRoot([], {
        NODE_ID: nodeId,
        ETCD_ENDPOINT: endpoints.join(','),
        ETCD_PREFIX: prefix,
        ETCD_WAIT_TIMEOUT: '5',
      }),
    ],
  }).compile();
  ctl.useLogger(false);
  await ctl.init();
  return ctl;
}
