import { Controller, HttpCode, HttpStatus, Post } from '@nestjs/common';

import {
  ACTIVATE_REPLY,
  CAPABILITIES_REPLY,
  DEFAULT_ADDRESS_SPACES_REPLY,
  type ActivateReply,
  type CapabilitiesReply,
  type DefaultAddressSpacesReply,
} from './handshake.js';

export * from './handshake.js';

/** The handshake calls once the app is up (before that, the plugin listener answers them). */
@Controller()
export class HandshakeController {
  @Post('Plugin.Activate')
  @HttpCode(HttpStatus.OK)
  activate(): ActivateReply {
    return ACTIVATE_REPLY;
  }

  @Post('IpamDriver.GetCapabilities')
  @HttpCode(HttpStatus.OK)
  getCapabilities(): CapabilitiesReply {
    return CAPABILITIES_REPLY;
  }

  @Post('IpamDriver.GetDefaultAddressSpaces')
  @HttpCode(HttpStatus.OK)
  getDefaultAddressSpaces(): DefaultAddressSpacesReply {
    return DEFAULT_ADDRESS_SPACES_REPLY;
  }
}
