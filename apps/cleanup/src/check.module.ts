import { Module, type DynamicModule } from '@nestjs/common';

import { IpamConfigModule } from '#app/config';
import { StoreModule } from '#app/store';

import { CheckService } from './check.service.js';

/** `--check`: etcd through the store, and nothing of Docker. */
@Module({})
export class CheckModule {
  /** `env` is handed to the config lib unread; it validates it (throws ConfigError). */
  static forRoot(env?: NodeJS.ProcessEnv): DynamicModule {
    return {
      module: CheckModule,
      imports: [IpamConfigModule.forRoot(env), StoreModule],
      providers: [CheckService],
      exports: [CheckService],
    };
  }
}
