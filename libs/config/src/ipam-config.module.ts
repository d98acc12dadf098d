import { Global, Module, type DynamicModule } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';

import { ipamConfig } from './config-namespace.js';
import type { IpamConfig } from './ipam-config.js';
import { loadConfig } from './load-config.js';

/**
 * Global module holding the validated {@link IpamConfig} in @nestjs/config as the
 * {@link ipamConfig} namespace: inject it with `@Inject(ipamConfig.KEY)`.
 */
@Global()
@Module({})
export class IpamConfigModule {
  /**
   * Validates the environment right away (not lazily in a provider factory), so a bad
   * environment throws one {@link ConfigError} before Nest starts building anything.
   *
   * @param env the variables to use; defaults to `process.env`. This default is the only
   *   place in the code base that reads `process.env`; everything else gets the typed config.
   */
  static forRoot(env: Readonly<Record<string, string | undefined>> = process.env): DynamicModule {
    return IpamConfigModule.forConfig(loadConfig(env));
  }

  /** The module for a configuration validated already (main builds it before Nest loads). */
  static forConfig(config: IpamConfig): DynamicModule {
    return {
      module: IpamConfigModule,
      global: true,
      imports: [
        ConfigModule.forRoot({
          ignoreEnvFile: true,
          isGlobal: true,
          load: [ipamConfig.load(config)],
          // Keep raw variables out of ConfigService: `get('SOME_VAR')` must not become a
          // back door around the validated config (nor copy process.env at all).
          validatePredefined: false,
          skipProcessEnv: true,
        }),
      ],
    };
  }
}
