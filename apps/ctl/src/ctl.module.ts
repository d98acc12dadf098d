import { Module, type DynamicModule, type Provider } from '@nestjs/common';

import { IpamConfigModule } from '#app/config';
import { StoreModule } from '#app/store';

/** The ctl's commands: the configuration, etcd through the store, and what a command adds. */
@Module({})
export class CtlModule {
  /** `env` is handed to the config lib unread; it validates it (throws ConfigError). */
  static forRoot(providers: Provider[] = [], env?: NodeJS.ProcessEnv): DynamicModule {
    return {
      module: CtlModule,
      imports: [IpamConfigModule.forRoot(env), StoreModule],
      providers,
      exports: providers,
    };
  }
}
