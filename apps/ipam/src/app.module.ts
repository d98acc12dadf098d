import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';

import { AllocatorModule } from '#app/allocator';
import { IpamConfigModule } from '#app/config';

import { HealthServer } from './health/health-server.js';
import { IpamExceptionFilter } from './http/exception.filter.js';
import { PluginSocket } from './listener/plugin-socket.js';
import { HandshakeController } from './plugin/handshake.controller.js';
import { IpamController } from './plugin/ipam.controller.js';
import { createValidationPipe } from './plugin/validation.js';

/**
 * The plugin: Docker's calls on the unix socket, health on TCP. Expects IPAM_CONFIG from a
 * global module (IpamConfigModule in the app, a fixed value in tests).
 */
@Module({
  imports: [AllocatorModule],
  controllers: [HandshakeController, IpamController],
  providers: [
    PluginSocket,
    HealthServer,
    { provide: APP_FILTER, useClass: IpamExceptionFilter },
    { provide: APP_PIPE, useFactory: createValidationPipe },
  ],
})
export class PluginModule {}

@Module({})
export class AppModule {
  /** `env` is handed to the config lib unread; it validates it (throws ConfigError). */
  static forRoot(env?: NodeJS.ProcessEnv): DynamicModule {
    return { module: AppModule, imports: [IpamConfigModule.forRoot(env), PluginModule] };
  }
}
