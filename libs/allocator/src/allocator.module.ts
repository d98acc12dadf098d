import { Module } from '@nestjs/common';
import { StoreModule } from '#app/store';
import { AddressAllocator } from './address-allocator.js';
import { HOST_NETWORKS, ProcHostNetworks } from './host-networks.js';
import { PoolAllocator } from './pool-allocator.js';
import { PoolStates } from './pool-states.js';

@Module({
  imports: [StoreModule],
  providers: [
    PoolAllocator,
    AddressAllocator,
    PoolStates,
    { provide: HOST_NETWORKS, useClass: ProcHostNetworks },
  ],
  exports: [PoolAllocator, AddressAllocator, StoreModule],
})
export class AllocatorModule {}
