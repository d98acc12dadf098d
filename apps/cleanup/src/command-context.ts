import type { DynamicModule, INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';

import { configWarnings, ipamConfig, type IpamConfig } from '#app/config';
import { IpamLogger, logFormatNamed, STDERR_ONLY } from '#app/logging';

/**
 * The standalone application of a command (kontena-ipam-cleanup, kontena-ipam-ctl): Nest's
 * logs on stderr (stdout carries the report), at LOG_LEVEL in LOG_FORMAT, with the configuration warnings
 * first. The caller closes it.
 */
export async function openCommandContext(
  appModule: DynamicModule,
): Promise<{ app: INestApplicationContext; config: IpamConfig }> {
  const app = await NestFactory.createApplicationContext(appModule, {
    bufferLogs: true,
    abortOnError: false,
  });
  const config = app.get<IpamConfig>(ipamConfig.KEY);
  const logger = new IpamLogger(config.logLevel, STDERR_ONLY, logFormatNamed(config.logFormat));
  app.useLogger(logger);
  app.flushLogs();
  for (const warning of configWarnings(config)) {
    logger.warn(warning, 'Config');
  }
  return { app, config };
}
