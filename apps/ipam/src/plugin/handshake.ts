/**
 * The replies of the calls dockerd makes when it first uses the driver (spec A.1, A.3). They
 * depend on nothing, on purpose: Docker must be able to activate the plugin while etcd is down,
 * and even while the rest of the plugin is still loading (see listener/plugin-listener.ts). Kept
 * free of Nest imports for that reason.
 */
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

export const ACTIVATE_REPLY: ActivateReply = { Implements: ['IpamDriver'] };

/** Both false: state lives in etcd, so a restarted dockerd needs no replay (spec A.3). */
export const CAPABILITIES_REPLY: CapabilitiesReply = {
  RequiresMACAddress: false,
  RequiresRequestReplay: false,
};

export const DEFAULT_ADDRESS_SPACES_REPLY: DefaultAddressSpacesReply = {
  LocalDefaultAddressSpace: LOCAL_ADDRESS_SPACE,
  GlobalDefaultAddressSpace: GLOBAL_ADDRESS_SPACE,
};

/** Request path → reply, for the three calls. */
export const HANDSHAKE_REPLIES: ReadonlyMap<string, object> = new Map<string, object>([
  ['/Plugin.Activate', ACTIVATE_REPLY],
  ['/IpamDriver.GetCapabilities', CAPABILITIES_REPLY],
  ['/IpamDriver.GetDefaultAddressSpaces', DEFAULT_ADDRESS_SPACES_REPLY],
]);
