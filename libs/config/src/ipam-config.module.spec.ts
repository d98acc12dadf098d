import { Inject, Injectable } from '@nestjs/common';
import { ConfigService, registerAs } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import { describe, expect, it } from 'vitest';

import { ConfigError } from './config-error.js';
import { ipamConfig } from './config-namespace.js';
// `import type`: the interface appears in a decorated constructor (isolatedModules + metadata).
import type { IpamConfig } from './ipam-config.js';
import { IpamConfigModule } from './ipam-config.module.js';

/**
 * Stands for any consumer. The token-injected parameter needs the decorators to run at all;
 * the type-injected ConfigService additionally needs the emitted `design:paramtypes` metadata.
 */
@Injectable()
class ConfigConsumer {
  constructor(
    @Inject(ipamConfig.KEY) readonly config: IpamConfig,
    readonly configService: ConfigService,
  ) {}
}

async function compile(env: Record<string, string | undefined>) {
  return Test.createTestingModule({
    imports: [IpamConfigModule.forRoot(env)],
    providers: [ConfigConsumer],
  }).compile();
}

describe('IpamConfigModule', () => {
  const cases = [
    {
      name: 'defaults only',
      env: {},
      expected: { subnetLength: 24, driverName: 'kontena-ipam', logLevel: 'info' },
    },
    {
      name: 'typed values from the given env',
      env: {
        KONTENA_IPAM_SUBNET_LENGTH: '16',
        KONTENA_IPAM_SOCKET: '/tmp/ipam2.sock',
        LOG_LEVEL: '0',
      },
      expected: { subnetLength: 16, driverName: 'ipam2', logLevel: 'debug' },
    },
  ];

  it.each(cases)('$name: injected into a constructor', async ({ env, expected }) => {
    const moduleRef = await compile(env);
    const consumer = moduleRef.get(ConfigConsumer);
    expect(consumer.config).toMatchObject(expected);
    expect(typeof consumer.config.subnetLength).toBe('number');
    await moduleRef.close();
  });

  it.each(cases)('$name: same object through ConfigService', async ({ env }) => {
    const moduleRef = await compile(env);
    const { config, configService } = moduleRef.get(ConfigConsumer);
    expect(configService).toBeInstanceOf(ConfigService);
    expect(configService.get<IpamConfig>('ipam')).toBe(config);
    // Raw variables are not reachable through ConfigService.
    expect(configService.get('PATH')).toBeUndefined();
    await moduleRef.close();
  });

  it("has the token registerAs('ipam', …) would have", () => {
    expect(ipamConfig.KEY).toBe(registerAs('ipam', () => ({})).KEY);
  });

  const badCases = [
    { name: 'a bad env fails in forRoot with a ConfigError', env: { LOG_LEVEL: 'loud' } },
  ];

  it.each(badCases)('$name', ({ env }) => {
    expect(() => IpamConfigModule.forRoot(env)).toThrow(ConfigError);
  });
});
