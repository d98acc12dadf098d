import { GLOBAL_ADDRESS_SPACE, LOCAL_ADDRESS_SPACE } from '#app/ipam';

/**
 * The replies of the calls dockerd makes when it first uses the driver: `Plugin.Activate`
 * (moby/moby pkg/plugins/plugins.go), then `IpamDriver.GetCapabilities` and
 * `IpamDriver.GetDefaultAddressSpaces` (moby/moby daemon/libnetwork/ipams/remote/remote.go). They
 * depend on nothing but the contract's names, on purpose: Docker must be able to activate the
 * plugin while etcd is down, and even while the rest of the plugin is still loading.
 * PluginServer alone answers them.
 */
export const CAPABILITIES_ROUTE = '/IpamDriver.GetCapabilities';

export const HANDSHAKE_REPLIES: ReadonlyMap<string, object> = new Map<string, object>([
  ['/Plugin.Activate', { Implements: ['IpamDriver'] }],
  // RequiresMACAddress: dockerd then sends each container's MAC with its RequestAddress and none
  // with an --aux-address, which tells the two apart (README, "Addresses"). No replay: state
  // lives in etcd, and a replay at every dockerd start would send RequestPool again with no
  // ReleasePool at shutdown, counting each restart as one more reference (docs/design.md).
  [CAPABILITIES_ROUTE, { RequiresMACAddress: true, RequiresRequestReplay: false }],
  [
    '/IpamDriver.GetDefaultAddressSpaces',
    {
      LocalDefaultAddressSpace: LOCAL_ADDRESS_SPACE,
      GlobalDefaultAddressSpace: GLOBAL_ADDRESS_SPACE,
    },
  ],
]);
