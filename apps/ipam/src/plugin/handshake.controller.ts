import { Controller, HttpCode, HttpStatus, Post } from '@nestjs/common';

export const LOCAL_ADDRESS_SPACE = 'kontenalocal';
export const GLOBAL_ADDRESS_SPACE = 'kontenaglobal';

export interface ActivateReply {
  Implements: string[];
}

export interface CapabilitiesReply {
  RequiresMACAddress: boolean;
  RequiresRequestReplay: boolean;
}

export interface DefaultAddressSpacesReply {
  LocalDefaultAddressSpace: string;
  GlobalDefaultAddressSpace: string;
}

/**
 * The calls dockerd makes when it first uses the driver (spec A.1, A.3). They have no
 * dependencies on purpose: Docker must be able to activate the plugin while etcd is down.
 */
@Controller()
export class HandshakeController {
  @Post('Plugin.Activate')
  @HttpCode(HttpStatus.OK)
  activate(): ActivateReply {
    return { Implements: ['IpamDriver'] };
  }

  /** Both false: state lives in etcd, so a restarted dockerd needs no replay (spec A.3). */
  @Post('IpamDriver.GetCapabilities')
  @HttpCode(HttpStatus.OK)
  getCapabilities(): CapabilitiesReply {
    return { RequiresMACAddress: false, RequiresRequestReplay: false };
  }

  @Post('IpamDriver.GetDefaultAddressSpaces')
  @HttpCode(HttpStatus.OK)
  getDefaultAddressSpaces(): DefaultAddressSpacesReply {
    return {
      LocalDefaultAddressSpace: LOCAL_ADDRESS_SPACE,
      GlobalDefaultAddressSpace: GLOBAL_ADDRESS_SPACE,
    };
  }
}
