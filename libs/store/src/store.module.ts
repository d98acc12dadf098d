import { Module } from '@nestjs/common';
import { AllocationStore } from './allocation-store.js';
import { CleanupStore } from './cleanup-store.js';
import { EtcdConnection } from './etcd-connection.js';
import { PlanStore } from './plan-store.js';

/**
 * The store's providers: the connection (status, deadlines), the allocation transactions and
 * the cleanup's reads and guarded writes, the ctl's reads of the plan. Each caller injects what it uses.
 */
@Module({
  providers: [EtcdConnection, AllocationStore, CleanupStore, PlanStore],
  exports: [EtcdConnection, AllocationStore, CleanupStore, PlanStore],
})
export class StoreModule {}
