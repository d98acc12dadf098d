import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';

import { AllocatorModule } from '#app/allocator';
import { IpamConfigModule, type IpamConfig } from '#app/config';
import { NodeRegistrationModule } from '#app/store';

import { HealthServer } from './health/health-server.js';
import { IpamController } from './plugin/ipam.controller.js';
import { createValidationPipe } from './plugin/validation.js';
import { IpamExceptionFilter } from './plugin-server/exception.filter.js';
import { PluginServer } from './plugin-server/plugin-server.js';

/** The two listeners main opens before Nest loads; the app closes them on shutdown. */
export interface Listeners {
  socket: PluginServer;
  health: HealthServer;
}

/**
 * The plugin: Docker's calls on the unix socket, health on TCP. Expects the configuration (the
 * ipamConfig namespace) from a global module. The listeners are providers by value, so that
 * their onModuleDestroy runs before the modules this one imports (allocators, store) close:
 * calls in flight finish first.
 */
@Module({})
export class PluginModule {
  static forListeners({ socket, health }: Listeners): DynamicModule {
    return {
      module: PluginModule,
      imports: [AllocatorModule],
      controllers: [IpamController],
      providers: [
        { provide: PluginServer, useValue: socket },
        { provide: HealthServer, useValue: health },
        { provide: APP_FILTER, useClass: IpamExceptionFilter },
        { provide: APP_PIPE, useFactory: createValidationPipe },
      ],
    };
  }
}

@Module({})
export class AppModule {
  /**
   * `config` is the one validated configuration (loadConfig), built before Nest loaded;
   * `version` the plugin's, for its registration under its NODE_ID.
   */
  static forRoot(config: IpamConfig, listeners: Listeners, version: string): DynamicModule {
    return {
      module: AppModule,
      imports: [
        IpamConfigModule.forConfig(config),
        PluginModule.forListeners(listeners),
        NodeRegistrationModule.forRoot({ version }),
      ],
    };
  }
}
