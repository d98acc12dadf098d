import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';

import { AllocatorModule } from '#app/allocator';
import { IpamConfigModule, type IpamConfig } from '#app/config';

import { HealthServer } from './health/health-server.js';
import { IpamController } from './plugin/ipam.controller.js';
import { createValidationPipe } from './plugin/validation.js';
import { IpamExceptionFilter } from './plugin-server/exception.filter.js';
import { PluginServer } from './plugin-server/plugin-server.js';

/**
 * The plugin: Docker's calls on the unix socket (the server main opened before Nest loaded),
 * health on TCP. Expects IPAM_CONFIG from a global module.
 */
@Module({})
export class PluginModule {
  static forServer(server: PluginServer): DynamicModule {
    return {
      module: PluginModule,
      imports: [AllocatorModule],
      controllers: [IpamController],
      providers: [
        { provide: PluginServer, useValue: server },
        HealthServer,
        { provide: APP_FILTER, useClass: IpamExceptionFilter },
        { provide: APP_PIPE, useFactory: createValidationPipe },
      ],
    };
  }
}

@Module({})
export class AppModule {
  /** `config` is validated already (loadConfig); `server` is the open plugin socket. */
  static forRoot(config: IpamConfig, server: PluginServer): DynamicModule {
    return {
      module: AppModule,
      imports: [IpamConfigModule.forConfig(config), PluginModule.forServer(server)],
    };
  }
}
