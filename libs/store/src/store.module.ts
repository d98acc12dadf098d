import { Module } from '@nestjs/common';
import { EtcdStore } from './etcd-store.js';

@Module({ providers: [EtcdStore], exports: [EtcdStore] })
export class StoreModule {}
