import { Module } from '@nestjs/common';
import { AllocationStore } from './allocation-store.js';
import { CleanupStore } from './cleanup-store.js';
import { EtcdConnection } from './etcd-connection.js';

/**
 * The store's providers: the connection (status, deadlines), the allocation transactions and
 * the cleanup's reads and guarded writes. Each caller injects what it uses.
 */
@Module({
  providers: [EtcdConnection, AllocationStore, CleanupStore],
  exports: [EtcdConnection, AllocationStore, CleanupStore],
})
export class StoreModule {}
