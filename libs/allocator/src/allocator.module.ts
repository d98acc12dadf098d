import { Module } from '@nestjs/common';
import { StoreModule } from '#app/store';
import { AddressAllocator } from './address-allocator.js';
import { HOST_ROUTES, ProcHostRoutes } from './host-routes.js';
import { PoolAllocator } from './pool-allocator.js';
import { PoolStates } from './pool-states.js';

@Module({
  imports: [StoreModule],
  providers: [
    PoolAllocator,
    AddressAllocator,
    PoolStates,
    { provide: HOST_ROUTES, useClass: ProcHostRoutes },
  ],
  exports: [PoolAllocator, AddressAllocator, StoreModule],
})
export class AllocatorModule {}
