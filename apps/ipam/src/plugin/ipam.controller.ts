import { Body, Controller, HttpCode, HttpStatus, Logger, Post } from '@nestjs/common';

import { AddressAllocator, PoolAllocator } from '#app/allocator';
import { POOL_OPTION_KEYS } from '#app/ipam';

import { PluginServer } from '../plugin-server/plugin-server.js';
import { show } from './docker-fields.js';

import {
  ReleaseAddressDto,
  ReleasePoolDto,
  RequestAddressDto,
  type RequestAddressReply,
  RequestPoolDto,
  type RequestPoolReply,
  toAddressRequest,
  toPoolRequest,
  toReleaseAddressRequest,
} from './ipam.dto.js';

/** An empty object: what Docker expects from the release calls. */
export type EmptyReply = Record<string, never>;

/**
 * The IpamDriver calls that change state (request and reply shapes: moby/moby
 * daemon/libnetwork/ipams/remote/api/api.go). Bodies are validated by the global pipe;
 * failures are typed errors that the exception filter turns into `{"Err"}` replies.
 */
@Controller()
export class IpamController {
  private readonly log = new Logger('IpamController');

  constructor(
    private readonly pools: PoolAllocator,
    private readonly addresses: AddressAllocator,
    private readonly server: PluginServer,
  ) {}

  @Post('IpamDriver.RequestPool')
  @HttpCode(HttpStatus.OK)
  async requestPool(@Body() body: RequestPoolDto): Promise<RequestPoolReply> {
    const reply = await this.pools.requestPool(toPoolRequest(body));
    this.warnUnknownOptions(reply.poolId, body.Options.unknown ?? []);
    return { PoolID: reply.poolId, Pool: reply.pool, Data: reply.data };
  }

  /** Keys no option of this plugin's (nor a near miss of one): named, at most ten, in a warning. */
  private warnUnknownOptions(poolId: string, unknown: readonly string[]): void {
    if (unknown.length === 0) {
      return;
    }
    const shown = unknown.slice(0, 10).map((k) => show(k));
    const more = unknown.length > 10 ? ` and ${unknown.length - 10} more` : '';
    this.log.warn(
      `RequestPool of pool ${poolId}: ignored option(s) ${shown.join(', ')}${more}, which kontena-ipam does not know (its options: ${POOL_OPTION_KEYS.join(', ')})`,
    );
  }

  @Post('IpamDriver.ReleasePool')
  @HttpCode(HttpStatus.OK)
  async releasePool(@Body() body: ReleasePoolDto): Promise<EmptyReply> {
    await this.pools.releasePool(body.PoolID);
    return {};
  }

  @Post('IpamDriver.RequestAddress')
  @HttpCode(HttpStatus.OK)
  async requestAddress(@Body() body: RequestAddressDto): Promise<RequestAddressReply> {
    const macs = this.server.macs.dockerSendsMacs;
    const reply = await this.addresses.requestAddress(toAddressRequest(body, macs));
    return { Address: reply.address, Data: reply.data };
  }

  @Post('IpamDriver.ReleaseAddress')
  @HttpCode(HttpStatus.OK)
  async releaseAddress(@Body() body: ReleaseAddressDto): Promise<EmptyReply> {
    await this.addresses.releaseAddress(toReleaseAddressRequest(body));
    return {};
  }
}
