import { Test } from '@nestjs/testing';
import { describe, expect, it } from 'vitest';

import { CleanupStore } from '#app/store';

import { CheckModule } from './check.module.js';
import { CheckService } from './check.service.js';

// The DI canary of --check: resolves its providers through Nest as the app does, without any
// Docker configuration (the check never asks Docker).
describe('CheckModule', () => {
  it('should resolve the check service with the store, and no Docker client', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [CheckModule.forRoot({ NODE_ID: 'canary', ETCD_ENDPOINT: 'http://127.0.0.1:1' })],
    }).compile();
    try {
      expect(moduleRef.get(CheckService)).toBeInstanceOf(CheckService);
      expect(moduleRef.get(CleanupStore)).toBeInstanceOf(CleanupStore);
    } finally {
      await moduleRef.close();
    }
  });
});
