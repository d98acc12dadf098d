import { getConfigToken, registerAs, type ConfigFactory, type ConfigObject } from '@nestjs/config';

import type { IpamConfig } from './ipam-config.js';

/**
 * An @nestjs/config namespace whose value is validated before Nest loads, instead of being built
 * by a factory that reads process.env inside Nest. `KEY` is the token `registerAs(name, …).KEY`
 * would be, so injection reads as in Nest's docs, `@Inject(namespace.KEY) value: T`; `load(value)`
 * is the registerAs factory that ConfigModule's `load` option takes.
 */
export interface ConfigNamespace<T extends ConfigObject> {
  readonly KEY: string;
  load(value: T): ConfigFactory<T>;
}

function configNamespace<T extends ConfigObject>(name: string): ConfigNamespace<T> {
  return {
    KEY: getConfigToken(name),
    load: (value) => registerAs(name, () => value),
  };
}

/**
 * The `ipam` namespace: the whole validated {@link IpamConfig}, provided by IpamConfigModule.
 * Inject it where a value is used, `@Inject(ipamConfig.KEY) config: IpamConfig`; it is also
 * `configService.get('ipam')`. A test without the module provides it as
 * `{ provide: ipamConfig.KEY, useValue: config }`.
 */
export const ipamConfig = configNamespace<IpamConfig>('ipam');
